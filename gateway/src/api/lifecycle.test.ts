import type { Sandbox } from "../../../api/gen/crd-types.js";
import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import { ApiError } from "./errors.js";
import { pauseFailure, pauseModeOf, pausePlan, type PauseMode } from "./lifecycle.js";

const sandbox = (spec: Partial<Sandbox["spec"]>, phase?: NonNullable<Sandbox["status"]>["phase"]) =>
  sandboxFixture({
    metadata: { name: "sbx1" },
    spec: { templateRef: "soulbox-template-base", ...spec },
    ...(phase ? { status: { phase } } : {}),
  });

test.each([
  [undefined, "Freeze", "Freeze"],
  [null, "Freeze", "Freeze"],
  [true, "Freeze", "Freeze"],
  [false, "Freeze", "Filesystem"],
  [undefined, "Memory", "Memory"],
  [true, "Memory", "Memory"],
  [false, "Memory", "Filesystem"],
] as const)(
  "pause memory %j with --memory-pause %s is pauseMode %s",
  (memory, memoryPause, mode) => {
    expect(pauseModeOf(memory, memoryPause)).toBe(mode);
  },
);

test("pause memory that is not a boolean is a 400", () => {
  expect(() => pauseModeOf("no")).toThrow(new ApiError(400, "memory must be true or false"));
});

test.each<[string, Sandbox, PauseMode, string, RegExp | undefined]>([
  ["running, memory kept", sandbox({}, "Running"), "Freeze", "patch", undefined],
  ["running, filesystem", sandbox({}, "Running"), "Filesystem", "patch", undefined],
  ["resuming", sandbox({ state: "Running" }, "Resuming"), "Filesystem", "patch", undefined],
  // A second pause while the first is under way waits for it (idempotent).
  [
    "pausing, same mode",
    sandbox({ state: "Paused", pauseMode: "Filesystem" }, "Pausing"),
    "Filesystem",
    "wait",
    undefined,
  ],
  ["pausing, default mode", sandbox({ state: "Paused" }, "Running"), "Freeze", "wait", undefined],
  [
    "pausing, other mode",
    sandbox({ state: "Paused", pauseMode: "Filesystem" }, "Pausing"),
    "Freeze",
    "refuse",
    /^Sandbox 'sbx1' is being paused with pauseMode Filesystem/,
  ],
  [
    "pausing at its timeout (spec.state stays Running)",
    sandbox({ onTimeout: "Pause", timeoutSeconds: 5, pauseMode: "Filesystem" }, "Pausing"),
    "Filesystem",
    "wait",
    undefined,
  ],
  [
    "paused at its timeout",
    sandbox({ onTimeout: "Pause", timeoutSeconds: 5 }, "Paused"),
    "Freeze",
    "refuse",
    /already paused/,
  ],
  [
    "paused",
    sandbox({ state: "Paused", pauseMode: "Filesystem" }, "Paused"),
    "Filesystem",
    "refuse",
    /^Error pausing sandbox - sandbox 'sbx1' is already paused$/,
  ],
  [
    "paused, asked in another mode",
    sandbox({ state: "Paused" }, "Paused"),
    "Filesystem",
    "refuse",
    /already paused/,
  ],
])("pausePlan: %s", (_what, s, mode, act, message) => {
  const plan = pausePlan(s, mode);
  expect(plan.act).toBe(act);
  if (plan.act === "refuse") {
    expect(plan.error.status).toBe(409);
    expect(plan.error.message).toMatch(message ?? /./);
  }
});

const pausedCondition = (reason: string, observedGeneration?: number) =>
  sandboxFixture({
    metadata: { name: "sbx1", generation: 4 },
    spec: { templateRef: "t", state: "Paused", pauseMode: "Filesystem" },
    status: {
      phase: "Running",
      conditions: [
        {
          type: "Paused",
          status: "False",
          reason,
          message: "storage down",
          lastTransitionTime: "2026-01-01T00:00:00Z",
          ...(observedGeneration === undefined ? {} : { observedGeneration }),
        },
      ],
    },
  });

test.each([
  ["failed for this pause", pausedCondition("SnapshotFailed", 4), 4, true],
  ["failed for a later generation", pausedCondition("SnapshotFailed", 5), 4, true],
  // A failure of an earlier pause, not yet replaced by the operator: not this pause's answer.
  ["failed for an earlier pause", pausedCondition("SnapshotFailed", 3), 4, false],
  ["no generation observed", pausedCondition("SnapshotFailed"), 4, false],
  ["still snapshotting", pausedCondition("Snapshotting", 4), 4, false],
  ["generation unknown", pausedCondition("SnapshotFailed", 1), undefined, true],
])("pauseFailure: %s", (_what, s, generation, failed) => {
  expect(pauseFailure(s, generation)?.message).toBe(failed ? "storage down" : undefined);
});
