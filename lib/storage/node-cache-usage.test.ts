import { createUseTable, decayedScore } from "./node-cache-usage.js";

const HOUR = 3600_000;

test.each([
  { name: "no time passed", score: 8, at: 0, now: 0, want: 8 },
  { name: "one half-life", score: 8, at: 0, now: HOUR, want: 4 },
  { name: "three half-lives", score: 8, at: 0, now: 3 * HOUR, want: 1 },
  { name: "clock stepped back: no decay", score: 8, at: HOUR, now: 0, want: 8 },
])("decayedScore: $name", ({ score, at, now, want }) => {
  expect(decayedScore(score, at, now, HOUR)).toBeCloseTo(want, 10);
});

test("recent uses outrank many old ones; ties break by key", () => {
  const t = createUseTable({ halfLifeMs: HOUR, maxRecords: 10 });
  for (let i = 0; i < 8; i++) t.record("file:///s", "old", "a".repeat(64), 1, 0);
  // 8 uses at t=0 are worth 8/16 = 0.5 four hours later; 2 uses then are worth 2.
  t.record("file:///s", "new", "b".repeat(64), 2, 4 * HOUR);
  t.record("file:///s", "new", "b".repeat(64), 2, 4 * HOUR);
  t.record("file:///s", "tie-b", "c".repeat(64), 3, 4 * HOUR);
  t.record("file:///s", "tie-a", "d".repeat(64), 3, 4 * HOUR);
  const top = t.top(10, 4 * HOUR);
  expect(top.map((r) => r.key)).toEqual(["new", "tie-a", "tie-b", "old"]);
  expect(top[0]?.score).toBeCloseTo(2);
  expect(top[3]?.score).toBeCloseTo(0.5);
  expect(t.top(1, 4 * HOUR).map((r) => r.key)).toEqual(["new"]);
  expect(t.top(0, 4 * HOUR)).toEqual([]);
});

test("the same key in two stores is two records", () => {
  const t = createUseTable({ halfLifeMs: HOUR, maxRecords: 10 });
  t.record("file:///a", "k", "a".repeat(64), 1, 0);
  t.record("s3://b", "k", "a".repeat(64), 1, 0);
  expect(t.all()).toHaveLength(2);
});

test("the table stays bounded, keeping the most used", () => {
  const t = createUseTable({ halfLifeMs: HOUR, maxRecords: 10 });
  for (let i = 0; i < 10; i++)
    for (let n = 0; n <= i; n++) t.record("file:///s", `k${i}`, "a".repeat(64), 1, 0);
  for (let i = 0; i < 50; i++) t.record("file:///s", `once${i}`, "a".repeat(64), 1, 0);
  expect(t.all().length).toBeLessThanOrEqual(11);
  expect(t.top(9, 0).map((r) => r.key)).toEqual(Array.from({ length: 9 }, (_, i) => `k${9 - i}`));
});

test("a persisted table is loaded; malformed records are dropped", () => {
  const good = {
    storeUrl: "file:///s",
    key: "k",
    sha256: "a".repeat(64),
    size: 3,
    score: 4,
    at: 0,
  };
  const t = createUseTable({
    halfLifeMs: HOUR,
    maxRecords: 10,
    initial: [good, null, "x", { ...good, key: 7 }, { ...good, key: "k2", score: "NaN" }],
  });
  expect(t.all()).toEqual([good]);
  expect(t.top(5, HOUR)[0]?.score).toBeCloseTo(2);
});
