import type { SandboxSpec } from "./gen/crd-types.js";
import {
  expiresAt,
  formatRfc3339,
  isExpired,
  MAX_REQUEUE_MS,
  parseRfc3339,
  requeueAfterMs,
} from "./expiry.js";
import { sandboxFixture } from "./test-support/fixtures.js";

const sandbox = (spec: Partial<SandboxSpec>, expiresAnnotation?: string) =>
  sandboxFixture({
    metadata: {
      namespace: "a",
      annotations:
        expiresAnnotation === undefined
          ? undefined
          : { "soulbox.dev/expires-at": expiresAnnotation },
    },
    spec: { template: { image: "x" }, ...spec },
  });

const started = "2026-03-01T10:00:00Z";

describe("expiresAt", () => {
  test.each<
    [string, Partial<SandboxSpec>, string | undefined, string | undefined, string | undefined]
  >([
    ["no timeout", {}, undefined, started, undefined],
    ["a timeout before the start", { timeoutSeconds: 60 }, undefined, undefined, undefined],
    ["start + timeout", { timeoutSeconds: 300 }, undefined, started, "2026-03-01T10:05:00Z"],
    [
      "start with a fraction + timeout",
      { timeoutSeconds: 1 },
      undefined,
      "2026-03-01T10:00:00.250Z",
      "2026-03-01T10:00:01.250Z",
    ],
    [
      "the annotation wins",
      { timeoutSeconds: 300 },
      "2026-03-02T00:00:00Z",
      started,
      "2026-03-02T00:00:00Z",
    ],
    [
      "the annotation counts before the start",
      {},
      "2026-03-02T00:00:00Z",
      undefined,
      "2026-03-02T00:00:00Z",
    ],
    [
      "the annotation is normalised to UTC",
      {},
      "2026-03-02T01:30:00+01:30",
      started,
      "2026-03-02T00:00:00Z",
    ],
    [
      "a bad annotation falls back to the timeout",
      { timeoutSeconds: 60 },
      "tomorrow",
      started,
      "2026-03-01T10:01:00Z",
    ],
    ["a bad annotation without a timeout", {}, "2026-02-30T00:00:00Z", started, undefined],
    ["a bad startedAt", { timeoutSeconds: 60 }, undefined, "yesterday", undefined],
  ])("%s", (_name, spec, annotation, startedAt, expected) => {
    expect(expiresAt(sandbox(spec, annotation), startedAt)).toBe(expected);
  });
});

describe("isExpired and requeueAfterMs", () => {
  const now = new Date("2026-03-01T10:00:00Z");
  test.each<[string, string | undefined, boolean, number | undefined]>([
    ["no deadline", undefined, false, undefined],
    ["an invalid deadline", "soon", false, undefined],
    ["a minute ahead", "2026-03-01T10:01:00Z", false, 60_001],
    ["exactly now", "2026-03-01T10:00:00Z", true, 0],
    ["a second ago", "2026-03-01T09:59:59Z", true, 0],
    ["30 days ahead: capped", "2026-03-31T10:00:00Z", false, MAX_REQUEUE_MS],
  ])("%s", (_name, deadline, expired, requeue) => {
    expect(isExpired(deadline, now)).toBe(expired);
    expect(requeueAfterMs(deadline, now)).toBe(requeue);
  });
});

describe("parseRfc3339", () => {
  test.each<[string, string]>([
    ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000Z"],
    ["2026-03-01t10:00:00z", "2026-03-01T10:00:00.000Z"],
    ["2026-03-01T10:00:00.5Z", "2026-03-01T10:00:00.500Z"],
    ["2026-03-01T10:00:00.123456789Z", "2026-03-01T10:00:00.123Z"],
    ["2026-03-01T10:00:00-02:00", "2026-03-01T12:00:00.000Z"],
    ["2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"],
  ])("%s", (text, iso) => {
    expect(parseRfc3339(text)?.toISOString()).toBe(iso);
  });

  test.each<[string]>([
    [""],
    ["2026-03-01"],
    ["2026-03-01T10:00:00"],
    ["2026-03-01 10:00:00Z"],
    ["2026-02-30T00:00:00Z"],
    ["2027-02-29T00:00:00Z"],
    ["2026-13-01T00:00:00Z"],
    ["2026-01-01T24:00:00Z"],
    ["2026-01-01T10:60:00Z"],
    ["2026-01-01T10:00:60Z"],
    ["2026-01-01T10:00:00+24:00"],
    ["1767261600"],
  ])("refuses %s", (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  test("formatRfc3339 drops a zero fraction only", () => {
    expect(formatRfc3339(new Date("2026-03-01T10:00:00Z"))).toBe("2026-03-01T10:00:00Z");
    expect(formatRfc3339(new Date("2026-03-01T10:00:00.010Z"))).toBe("2026-03-01T10:00:00.010Z");
  });
});
