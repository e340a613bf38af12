import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import { conditionFixture } from "../../../api/test-support/fixtures.js";
import { checkRunning, desiredSnapshot, outcomeProblem } from "./snapshots.js";
import type { SnapshotOutcome } from "./snapshots-store.js";

const source = sandboxFixture({
  metadata: {
    name: "sbx1",
    namespace: "team-a",
    annotations: { "soulbox.dev/size": '{"cpuCount":2,"memoryMB":512,"diskSizeMB":0}' },
  },
  spec: { templateRef: "soulbox-template-base" },
});

test("a named snapshot records its name, tag, template and size, and is owned by nothing", () => {
  const s = desiredSnapshot("snap1", source, "named", { alias: "my-snap", tag: "v1" });
  expect(s).toEqual({
    apiVersion: "soulbox.dev/v1alpha1",
    kind: "Snapshot",
    metadata: {
      name: "snap1",
      namespace: "team-a",
      labels: {
        "soulbox.dev/team": "team-a",
        "soulbox.dev/sandbox": "sbx1",
        "soulbox.dev/snapshot-kind": "named",
        "soulbox.dev/snapshot-name": "my-snap",
        "soulbox.dev/snapshot-tag": "v1",
      },
      annotations: {
        "soulbox.dev/template-id": "base",
        "soulbox.dev/size": '{"cpuCount":2,"memoryMB":512,"diskSizeMB":0}',
        "soulbox.dev/snapshot-name": "my-snap",
      },
    },
    spec: { sandbox: "sbx1", mode: "Filesystem" },
  });
});

test("a fork snapshot has no name", () => {
  const s = desiredSnapshot("snap2", source, "fork");
  expect(s.metadata.labels?.["soulbox.dev/snapshot-kind"]).toBe("fork");
  expect(s.metadata.labels?.["soulbox.dev/snapshot-name"]).toBeUndefined();
  expect(s.metadata.ownerReferences).toBeUndefined();
});

test.each<[SnapshotOutcome, string | undefined]>([
  [{ done: "ready", snapshot: desiredSnapshot("s", source, "fork") }, undefined],
  [{ done: "failed", message: "StorageUnavailable: down" }, "StorageUnavailable: down"],
  [{ done: "timeout", message: "not ready within 55 s" }, "not ready within 55 s"],
  [{ done: "gone" }, "the snapshot was deleted while it was being taken"],
])("outcomeProblem %#", (out, problem) => {
  expect(outcomeProblem(out)).toBe(problem);
});

const ready = conditionFixture("Ready", "True", "EnvdReady");
test.each([
  [
    "running",
    { phase: "Running" as const, podIP: "10.0.0.1", conditions: [ready] },
    "Running",
    undefined,
  ],
  [
    "paused",
    { phase: "Paused" as const, conditions: [ready] },
    "Paused",
    "Sandbox 'sbx1' cannot be snapshotted while in 'paused' state",
  ],
  [
    "starting",
    { phase: "Starting" as const },
    "Running",
    "Sandbox 'sbx1' cannot be snapshotted while in 'running' state (not ready)",
  ],
])("checkRunning: %s", (_what, status, state, message) => {
  const s = sandboxFixture({
    metadata: { name: "sbx1" },
    spec: { templateRef: "t", state: state as "Running" | "Paused" },
    status,
  });
  if (message === undefined) expect(() => checkRunning(s, "snapshotted")).not.toThrow();
  else expect(() => checkRunning(s, "snapshotted")).toThrow(message);
});
