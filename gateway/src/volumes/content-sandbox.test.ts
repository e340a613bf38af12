import { desiredSandbox } from "../api/create.js";
import { contentSandboxId, desiredContentSandbox, isContentSandbox } from "./content-sandbox.js";
import type { VolumeRecord } from "./model.js";

const ID = "0b6c3a58-2f7e-4d0a-9a53-6a2a1c1e9f10";
const v: VolumeRecord = {
  id: ID,
  name: "data",
  team: "team-a",
  claimName: `volume-${ID}`,
  uid: "claim-uid",
  phase: "Bound",
  deleting: false,
};
const size = { cpuCount: 1, memoryMB: 512, diskSizeMB: 0 };

test("a content sandbox mounts the claim at /volume, is owned by it, and expires when idle", () => {
  const sb = desiredContentSandbox(v, "base", 300, size);
  expect(sb.metadata.name).toBe("vc-0b6c3a582f7e4d0a9a536a2a1c1e9f10");
  expect(sb.metadata.name).toBe(contentSandboxId(ID));
  expect(sb.metadata.namespace).toBe("team-a");
  expect(sb.metadata.labels).toMatchObject({
    "soulbox.dev/team": "team-a",
    "soulbox.dev/volume-content": ID,
  });
  expect(sb.metadata.ownerReferences).toEqual([
    { apiVersion: "v1", kind: "PersistentVolumeClaim", name: `volume-${ID}`, uid: "claim-uid" },
  ]);
  expect(sb.spec).toMatchObject({
    templateRef: "soulbox-template-base",
    timeoutSeconds: 300,
    onTimeout: "Delete",
    volumeMounts: [{ volume: `volume-${ID}`, path: "/volume" }],
  });
  expect(isContentSandbox(sb)).toBe(true);
});

test("a user's sandbox with volume mounts carries them; one without carries none", () => {
  const base = {
    templateID: "base",
    timeoutSeconds: 60,
    metadata: {},
    envVars: {},
    autoPause: false,
    autoResume: false,
  };
  const withMounts = desiredSandbox(
    "abc",
    "team-a",
    { ...base, volumeMounts: [{ volume: "volume-1", path: "/data" }] },
    size,
  );
  expect(withMounts.spec.volumeMounts).toEqual([{ volume: "volume-1", path: "/data" }]);
  expect(isContentSandbox(withMounts)).toBe(false);
  expect("volumeMounts" in desiredSandbox("abc", "team-a", base, size).spec).toBe(false);
});
