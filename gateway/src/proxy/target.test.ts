import type { Sandbox } from "../../../api/gen/crd-types.js";
import {
  createTargetResolver,
  decideTarget,
  TargetUnavailableError,
  type TargetDecision,
} from "./target.js";
import { createTestIndex, sandboxObject, type SandboxShape } from "../../test-support/sandboxes.js";

const NOW = new Date("2030-01-01T00:00:00Z");
const later = (ms: number) => new Date(NOW.getTime() + ms);
const ID = "sbx1";
const NOT_FOUND: TargetDecision = {
  kind: "refuse",
  message: "The sandbox was not found",
  notFound: true,
};

describe("decideTarget", () => {
  test.each<[string, SandboxShape | undefined, TargetDecision]>([
    ["unknown", undefined, NOT_FOUND],
    ["running and ready", { podIP: "10.0.0.7" }, { kind: "forward", host: "10.0.0.7" }],
    ["IPv6 pod", { podIP: "fd00::7" }, { kind: "forward", host: "fd00::7" }],
    ["expires later", { expiresAt: later(1) }, { kind: "forward", host: "127.0.0.1" }],
    ["expires now", { expiresAt: NOW }, NOT_FOUND],
    ["expired", { expiresAt: later(-1000) }, NOT_FOUND],
    [
      "paused",
      { phase: "Paused", state: "Paused" },
      { kind: "refuse", message: "sandbox sbx1 is paused" },
    ],
    [
      "pausing",
      { phase: "Pausing", state: "Paused" },
      { kind: "refuse", message: "sandbox sbx1 is paused" },
    ],
    [
      "asked to pause, still running",
      { state: "Paused" },
      { kind: "refuse", message: "sandbox sbx1 is paused" },
    ],
    ["resuming", { phase: "Resuming" }, { kind: "refuse", message: "sandbox sbx1 is resuming" }],
    [
      "paused, auto-resume",
      { phase: "Paused", state: "Paused", autoResume: true },
      { kind: "resume" },
    ],
    ["resuming, auto-resume", { phase: "Resuming", autoResume: true }, { kind: "resume" }],
    [
      "paused by its timeout, auto-resume",
      { phase: "Paused", state: "Paused", autoResume: true, expiresAt: later(-1000) },
      { kind: "resume" },
    ],
    ["failed", { phase: "Failed" }, { kind: "refuse", message: "sandbox sbx1 has failed" }],
    [
      "failed, auto-resume",
      { phase: "Failed", autoResume: true },
      { kind: "refuse", message: "sandbox sbx1 has failed" },
    ],
    ["being deleted", { deleting: true }, NOT_FOUND],
    [
      "pending",
      { phase: "Pending" },
      { kind: "refuse", message: "sandbox sbx1 is not running (phase Pending)" },
    ],
    [
      "starting",
      { phase: "Starting" },
      { kind: "refuse", message: "sandbox sbx1 is not running (phase Starting)" },
    ],
    [
      "running, not ready",
      { ready: false },
      { kind: "refuse", message: "sandbox sbx1 is not running (phase Running)" },
    ],
    [
      "running without a pod IP",
      { podIP: "" },
      { kind: "refuse", message: "sandbox sbx1 is not running (phase Running)" },
    ],
  ])("%s", (_name, shape, want) => {
    const s = shape === undefined ? undefined : sandboxObject(ID, shape);
    expect(decideTarget(ID, s, NOW)).toEqual(want);
  });
});

describe("createTargetResolver", () => {
  test("one resume per sandbox for concurrent first requests, then the resumed pod", async () => {
    const index = createTestIndex();
    index.set(sandboxObject(ID, { phase: "Paused", state: "Paused", autoResume: true }));
    let calls = 0;
    let release: (s: Sandbox) => void = () => undefined;
    const resolve = createTargetResolver({
      index,
      now: () => NOW,
      resume: () => {
        calls++;
        return new Promise<Sandbox>((r) => (release = r));
      },
    });
    const all = Promise.all([resolve(ID), resolve(ID), resolve(ID)]);
    await new Promise((r) => setImmediate(r));
    release(sandboxObject(ID, { podIP: "10.0.0.9", autoResume: true }));
    expect(await all).toEqual([
      { host: "10.0.0.9", resumed: true },
      { host: "10.0.0.9", resumed: true },
      { host: "10.0.0.9", resumed: true },
    ]);
    expect(calls).toBe(1);
  });

  test.each<[string, (() => Promise<Sandbox>) | undefined, RegExp]>([
    ["no resume callback", undefined, /sandbox sbx1 is paused/],
    [
      "resume fails (cause kept)",
      () => Promise.reject(new Error("quota exceeded")),
      /sandbox sbx1 could not be resumed: quota exceeded/,
    ],
    [
      "resume returns a sandbox that is not ready",
      () => Promise.resolve(sandboxObject(ID, { phase: "Starting" })),
      /sandbox sbx1 is not running \(phase Starting\)/,
    ],
  ])("%s → TargetUnavailableError", async (_name, resume, message) => {
    const index = createTestIndex();
    index.set(sandboxObject(ID, { phase: "Paused", state: "Paused", autoResume: true }));
    const resolve = createTargetResolver({ index, now: () => NOW, resume });
    const err = await resolve(ID).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetUnavailableError);
    expect((err as Error).message).toMatch(message);
    if (_name.includes("cause")) expect((err as Error).cause).toBeInstanceOf(Error);
  });

  test("reads the cache on every call: a sandbox that expires stops resolving", async () => {
    const index = createTestIndex();
    let now = NOW;
    index.set(sandboxObject(ID, { expiresAt: later(5000) }));
    const resolve = createTargetResolver({ index, now: () => now });
    expect(await resolve(ID)).toEqual({ host: "127.0.0.1", resumed: false });
    now = later(5000);
    await expect(resolve(ID)).rejects.toThrow("The sandbox was not found");
  });
});
