import type { Sandbox } from "../../../api/gen/crd-types.js";
import { conditionFixture, sandboxFixture } from "../../../api/test-support/fixtures.js";
import { autoResumes, e2bState, expiresAt, isExpired, isReady } from "./sandbox-state.js";

function sandbox(over: {
  state?: "Running" | "Paused";
  phase?: NonNullable<Sandbox["status"]>["phase"];
  ready?: "True" | "False";
  podIP?: string;
  annotations?: Record<string, string>;
  statusExpiresAt?: string;
  deleting?: boolean;
}): Sandbox {
  return sandboxFixture({
    metadata: {
      name: "abc",
      namespace: "team",
      annotations: over.annotations,
      deletionTimestamp: over.deleting ? new Date() : undefined,
    },
    spec: { templateRef: "soulbox-template-base", state: over.state },
    status: {
      phase: over.phase,
      podIP: over.podIP,
      expiresAt: over.statusExpiresAt,
      conditions: over.ready ? [conditionFixture("Ready", over.ready, "x", "", "")] : undefined,
    },
  });
}

describe("e2bState", () => {
  test.each([
    [{ phase: "Running" as const }, "running"],
    [{ phase: "Starting" as const }, "running"],
    [{ phase: "Pausing" as const }, "paused"],
    [{ phase: "Paused" as const }, "paused"],
    [{ phase: "Running" as const, state: "Paused" as const }, "paused"],
    [{ phase: "Resuming" as const, state: "Paused" as const }, "running"],
    [{ phase: "Resuming" as const, state: "Running" as const }, "running"],
  ])("%j → %s", (over, want) => {
    expect(e2bState(sandbox(over))).toBe(want);
  });
});

describe("expiresAt / isExpired", () => {
  const now = new Date("2026-01-01T00:00:10Z");
  test.each([
    [{}, undefined, false],
    [{ statusExpiresAt: "2026-01-01T00:00:05Z" }, "2026-01-01T00:00:05.000Z", true],
    [{ statusExpiresAt: "2026-01-01T00:00:15Z" }, "2026-01-01T00:00:15.000Z", false],
    [
      {
        statusExpiresAt: "2026-01-01T00:00:05Z",
        annotations: { "soulbox.dev/expires-at": "2026-01-01T00:01:00Z" },
      },
      "2026-01-01T00:01:00.000Z",
      false,
    ],
    [{ annotations: { "soulbox.dev/expires-at": "not a time" } }, undefined, false],
    // Not a day of February: the operator ignores it, so the gateway does too (no 2 March).
    [{ annotations: { "soulbox.dev/expires-at": "2026-02-30T10:00:00Z" } }, undefined, false],
    [{ statusExpiresAt: "2026-01-01T00:00:10Z" }, "2026-01-01T00:00:10.000Z", true],
  ])("%j → %s expired=%s", (over, want, expired) => {
    const s = sandbox(over);
    expect(expiresAt(s)?.toISOString()).toBe(want);
    expect(isExpired(s, now)).toBe(expired);
  });
});

describe("isReady", () => {
  test.each([
    [{ phase: "Running" as const, ready: "True" as const, podIP: "10.0.0.1" }, true],
    [{ phase: "Running" as const, ready: "True" as const }, false],
    [{ phase: "Running" as const, ready: "False" as const, podIP: "10.0.0.1" }, false],
    [{ phase: "Starting" as const, ready: "True" as const, podIP: "10.0.0.1" }, false],
    [{ phase: "Paused" as const, ready: "True" as const, podIP: "10.0.0.1" }, false],
    [
      { phase: "Running" as const, ready: "True" as const, podIP: "10.0.0.1", deleting: true },
      false,
    ],
  ])("%j → %s", (over, want) => {
    expect(isReady(sandbox(over))).toBe(want);
  });
});

test("autoResumes reads the annotation", () => {
  expect(autoResumes(sandbox({ annotations: { "soulbox.dev/auto-resume": "true" } }))).toBe(true);
  expect(autoResumes(sandbox({ annotations: { "soulbox.dev/auto-resume": "false" } }))).toBe(false);
  expect(autoResumes(sandbox({}))).toBe(false);
});
