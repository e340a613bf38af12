import type { SandboxStatus } from "./gen/crd-types.js";
import { conditionFixture, sandboxFixture } from "./test-support/fixtures.js";
import { deadlineOf, isPastDeadline, isReady, isTerminal, pauseRefusal } from "./verdicts.js";

const cond = (type: string, status: "True" | "False", reason: string) =>
  conditionFixture(type, status, reason, `${type} ${reason}`);
const sandbox = (status: SandboxStatus, annotations?: Record<string, string>) =>
  sandboxFixture({
    metadata: { name: "sb", namespace: "t", annotations },
    spec: { timeoutSeconds: 60 },
    status,
  });

test.each<[string, SandboxStatus, boolean]>([
  ["starting", { phase: "Starting" }, false],
  [
    "image pull backing off (the operator retries)",
    { phase: "Starting", conditions: [cond("Ready", "False", "ImagePullBackOff")] },
    false,
  ],
  [
    "ErrImagePull (the operator retries)",
    { phase: "Starting", conditions: [cond("Ready", "False", "ErrImagePull")] },
    false,
  ],
  ["failed", { phase: "Failed", conditions: [cond("Ready", "False", "InvalidImageName")] }, true],
  ["running", { phase: "Running" }, false],
])("isTerminal: %s", (_what, status, want) => {
  expect(isTerminal(sandbox(status))).toBe(want);
});

test.each<[string, SandboxStatus, boolean]>([
  [
    "running, ready, with an IP",
    { phase: "Running", podIP: "10.0.0.2", conditions: [cond("Ready", "True", "EnvdReady")] },
    true,
  ],
  ["no IP", { phase: "Running", conditions: [cond("Ready", "True", "EnvdReady")] }, false],
  [
    "Ready False",
    { phase: "Running", podIP: "10.0.0.2", conditions: [cond("Ready", "False", "Starting")] },
    false,
  ],
  [
    "paused",
    { phase: "Paused", podIP: "10.0.0.2", conditions: [cond("Ready", "True", "EnvdReady")] },
    false,
  ],
])("isReady: %s", (_what, status, want) => {
  expect(isReady(sandbox(status))).toBe(want);
});

test("pauseRefusal names the refused pause only", () => {
  const refused = sandbox({ conditions: [cond("Paused", "False", "PauseModeNotSupported")] });
  expect(pauseRefusal(refused)?.message).toBe("Paused PauseModeNotSupported");
  expect(
    pauseRefusal(sandbox({ conditions: [cond("Paused", "False", "Pausing")] })),
  ).toBeUndefined();
});

describe("deadlineOf", () => {
  const now = new Date("2026-03-01T10:00:30Z");
  test.each<[string, SandboxStatus, Record<string, string> | undefined, string | undefined]>([
    [
      "startedAt + timeoutSeconds",
      { startedAt: "2026-03-01T10:00:00Z" },
      undefined,
      "2026-03-01T10:01:00.000Z",
    ],
    [
      "the annotation wins",
      { startedAt: "2026-03-01T10:00:00Z" },
      { "soulbox.dev/expires-at": "2026-03-01T10:00:10Z" },
      "2026-03-01T10:00:10.000Z",
    ],
    [
      "30 February is no date (as the operator says)",
      { startedAt: "2026-03-01T10:00:00Z" },
      { "soulbox.dev/expires-at": "2026-02-30T10:00:00Z" },
      "2026-03-01T10:01:00.000Z",
    ],
    [
      "not started: the operator's status",
      { expiresAt: "2026-03-01T10:00:20Z" },
      undefined,
      "2026-03-01T10:00:20.000Z",
    ],
    ["nothing", {}, undefined, undefined],
  ])("%s", (_what, status, annotations, want) => {
    const sb = sandbox(status, annotations);
    expect(deadlineOf(sb)?.toISOString()).toBe(want);
    expect(isPastDeadline(sb, now)).toBe(want !== undefined && new Date(want) <= now);
  });
});
