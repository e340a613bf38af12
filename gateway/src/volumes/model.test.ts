import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { ApiError } from "../api/errors.js";
import {
  checkVolumeId,
  claimNameOf,
  desiredClaim,
  parseNewVolume,
  toE2bVolume,
  volumeOf,
} from "./model.js";

const ID = "0b6c3a58-2f7e-4d0a-9a53-6a2a1c1e9f10";
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  return undefined;
};

test.each<[unknown, string | undefined]>([
  [{ name: "data" }, undefined],
  [{ name: "My_Volume-2" }, undefined],
  [{ name: "" }, "Invalid volume name"],
  [{ name: "has space" }, "Invalid volume name"],
  [{ name: "dot.ted" }, "Invalid volume name"],
  [{ name: "a/b" }, "Invalid volume name"],
  [{ name: 3 }, "Invalid volume name"],
  [{}, "Invalid volume name"],
  [null, "Invalid volume name"],
  [{ name: "x".repeat(254) }, "Invalid volume name"],
])("new volume %j", (body, message) => {
  const r = refusal(() => parseNewVolume(body));
  expect(r?.message).toBe(message);
  if (r) expect(r.status).toBe(400);
});

test.each<[string, string | undefined]>([
  [ID, undefined],
  [ID.toUpperCase(), undefined],
  ["not-a-uuid", "Invalid volume ID"],
  ["", "Invalid volume ID"],
  [`${ID}x`, "Invalid volume ID"],
])("volume id %j", (id, message) => {
  const r = refusal(() => checkVolumeId(id));
  expect(r?.message).toBe(message);
  if (!r) expect(checkVolumeId(id)).toBe(ID);
});

describe("desiredClaim", () => {
  const settings = { storageClassName: "", accessMode: "ReadWriteOnce" as const, size: "1Gi" };

  test("is a claim named from the id, labelled, with the exact name in an annotation", () => {
    expect(desiredClaim(ID, "Data_1", "team-a", settings)).toEqual({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: {
        name: `volume-${ID}`,
        namespace: "team-a",
        labels: {
          "soulbox.dev/team": "team-a",
          "soulbox.dev/volume": ID,
          "soulbox.dev/volume-name": "Data_1",
          "app.kubernetes.io/managed-by": "soulbox-gateway",
        },
        annotations: { "soulbox.dev/volume-name": "Data_1" },
      },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
  });

  test("names the StorageClass only when one is set (absent = the cluster default)", () => {
    const c = desiredClaim(ID, "d", "t", {
      ...settings,
      storageClassName: "nfs",
      accessMode: "ReadWriteMany",
    });
    expect(c.spec?.storageClassName).toBe("nfs");
    expect(c.spec?.accessModes).toEqual(["ReadWriteMany"]);
    expect("storageClassName" in (desiredClaim(ID, "d", "t", settings).spec ?? {})).toBe(false);
  });

  test("a long name still fits a label value, and the annotation keeps it whole", () => {
    const name = "n".repeat(100);
    const c = desiredClaim(ID, name, "t", settings);
    expect(c.metadata?.labels?.["soulbox.dev/volume-name"]?.length).toBeLessThanOrEqual(63);
    expect(volumeOf({ ...c, metadata: { ...c.metadata, uid: "u" } })?.name).toBe(name);
  });
});

test.each<[string, V1PersistentVolumeClaim, ReturnType<typeof volumeOf>]>([
  [
    "a volume's claim",
    {
      ...desiredClaim(ID, "d", "t", {
        storageClassName: "",
        accessMode: "ReadWriteOnce",
        size: "1Gi",
      }),
      status: { phase: "Bound" },
    },
    {
      id: ID,
      name: "d",
      team: "t",
      claimName: claimNameOf(ID),
      uid: "",
      phase: "Bound",
      deleting: false,
    },
  ],
  ["another claim", { metadata: { name: "pgdata", namespace: "t" } }, undefined],
  [
    "a claim being deleted",
    {
      metadata: {
        name: "volume-x",
        namespace: "t",
        uid: "u1",
        deletionTimestamp: new Date(),
        labels: { "soulbox.dev/volume": "x" },
        annotations: { "soulbox.dev/volume-name": "n" },
      },
    },
    {
      id: "x",
      name: "n",
      team: "t",
      claimName: "volume-x",
      uid: "u1",
      phase: "Pending",
      deleting: true,
    },
  ],
])("volumeOf %s", (_name, claim, want) => {
  expect(volumeOf(claim)).toEqual(want);
});

test("E2B's Volume body", () => {
  const v = volumeOf(
    desiredClaim(ID, "d", "t", { storageClassName: "", accessMode: "ReadWriteOnce", size: "1Gi" }),
  );
  expect(v && toE2bVolume(v)).toEqual({ volumeID: ID, name: "d" });
});
