import type { Snapshot } from "../../../api/gen/crd-types.js";
import { conditionFixture } from "../../../api/test-support/fixtures.js";
import { waitSnapshot, type SnapshotCalls } from "./snapshots-store.js";

const at = (phase?: NonNullable<Snapshot["status"]>["phase"], failed?: string): Snapshot => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Snapshot",
  metadata: { name: "snap1", namespace: "team-a" },
  spec: { sandbox: "sbx1" },
  status: {
    ...(phase ? { phase } : {}),
    ...(failed ? { conditions: [conditionFixture("Ready", "False", "UploadFailed", failed)] } : {}),
  },
});

/** Calls whose `get` answers the scripted states in turn (the last one repeats). */
function scripted(states: (Snapshot | undefined)[]): SnapshotCalls & { gets: number } {
  const calls = {
    gets: 0,
    get: () => Promise.resolve(states[Math.min(calls.gets++, states.length - 1)]),
    create: () => Promise.reject(new Error("not used")),
    list: () => Promise.reject(new Error("not used")),
    patch: () => Promise.reject(new Error("not used")),
    delete: () => Promise.reject(new Error("not used")),
  };
  return calls;
}

test.each([
  ["ready after a while", [at(), at("InProgress"), at("Ready")], "ready", 3],
  ["failed", [at("InProgress"), at("Failed", "storage down")], "failed", 2],
  ["deleted meanwhile", [at("Pending"), undefined], "gone", 2],
])("waitSnapshot: %s", async (_what, states, done, gets) => {
  const calls = scripted(states);
  const out = await waitSnapshot(calls, "team-a", "snap1", 10_000);
  expect(out.done).toBe(done);
  expect(calls.gets).toBe(gets);
  if (out.done === "failed") expect(out.message).toBe("UploadFailed: storage down");
});

test("waitSnapshot gives up after its bound, naming the last phase", async () => {
  const out = await waitSnapshot(scripted([at("InProgress")]), "team-a", "snap1", 600);
  expect(out).toEqual({
    done: "timeout",
    message: "snapshot 'snap1' was not ready within 1 s (phase InProgress)",
  });
});
