import type { Sandbox } from "../../../api/gen/crd-types.js";
import { conditionFixture, sandboxFixture } from "../../../api/test-support/fixtures.js";
import { createLogger } from "../../../lib/log.js";
import type { E2bMetric } from "./e2b-json.js";
import { MetricSeries, parseMetricsRange, startMetricsHistory } from "./metrics-history.js";

const m = (ts: number): E2bMetric => ({
  timestamp: new Date(ts * 1000).toISOString(),
  timestampUnix: ts,
  cpuCount: 1,
  cpuUsedPct: 0,
  memUsed: 1,
  memTotal: 2,
  memCache: 0,
  diskUsed: 1,
  diskTotal: 2,
});

test.each<[string, number | undefined, number | undefined, number[]]>([
  ["everything", undefined, undefined, [10, 15, 20, 25]],
  ["from a start", 15, undefined, [15, 20, 25]],
  ["up to an end", undefined, 15, [10, 15]],
  ["one sample", 20, 20, [20]],
  ["between samples", 16, 19, []],
  ["before the first", 0, 9, []],
])("MetricSeries.range: %s", (_name, start, end, want) => {
  const s = new MetricSeries();
  for (const t of [10, 15, 20, 25]) s.add(m(t));
  expect(s.range(start, end).map((x) => x.timestampUnix)).toEqual(want);
});

test("MetricSeries keeps the newest `max`, replaces a sample of the same second, ignores older ones", () => {
  const s = new MetricSeries(3);
  for (const t of [1, 2, 3, 4]) s.add(m(t));
  s.add({ ...m(4), memUsed: 99 });
  s.add(m(2));
  expect(s.range().map((x) => [x.timestampUnix, x.memUsed])).toEqual([
    [2, 1],
    [3, 1],
    [4, 99],
  ]);
  expect(s.size).toBe(3);
});

const bad = (message: string) => ({ status: 400, message });
test.each<
  [string, Record<string, unknown>, { start?: number; end?: number } | ReturnType<typeof bad>]
>([
  ["none", {}, {}],
  ["both", { start: "10", end: "20" }, { start: 10, end: 20 }],
  ["equal", { start: "10", end: "10" }, { start: 10, end: 10 }],
  ["start after end", { start: "20", end: "10" }, bad("Invalid time range for metrics")],
  [
    "start not a number",
    { start: "abc" },
    bad('parameter "start" in query has an error: value abc: an invalid integer: invalid syntax'),
  ],
  [
    "end negative",
    { end: "-1" },
    bad('parameter "end" in query has an error: number must be at least 0'),
  ],
])("parseMetricsRange: %s", (_name, q, want) => {
  if ("status" in want) expect(() => parseMetricsRange(q)).toThrow(expect.objectContaining(want));
  else expect(parseMetricsRange(q)).toEqual(want);
});

test("the sampler keeps a series per running sandbox, skips paused ones, forgets deleted ones", async () => {
  const ready = (name: string, uid: string, extra: Partial<Sandbox["spec"]> = {}): Sandbox => {
    const s = sandboxFixture({ metadata: { name, namespace: "t", uid }, spec: { ...extra } });
    s.status = {
      phase: extra.state === "Paused" ? "Paused" : "Running",
      podIP: "10.0.0.1",
      conditions: [conditionFixture("Ready", "True", "Ready")],
    };
    return s;
  };
  let sandboxes = [ready("a", "ua"), ready("p", "up", { state: "Paused" })];
  let clock = 100;
  const read = async (s: Sandbox) => {
    if (s.metadata.name === "broken") throw new Error("envd down");
    return m(clock);
  };
  const h = startMetricsHistory({
    all: () => sandboxes,
    read,
    log: createLogger("error"),
    intervalMs: 3_600_000,
  });
  try {
    await h.sampleNow();
    clock = 105;
    sandboxes = [...sandboxes, ready("broken", "ub")];
    await h.sampleNow();
    expect(h.range("ua").map((x) => x.timestampUnix)).toEqual([100, 105]);
    expect(h.range("ua", 101).map((x) => x.timestampUnix)).toEqual([105]);
    expect(h.range("up")).toEqual([]);
    expect(h.range("ub")).toEqual([]);
    sandboxes = [];
    await h.sampleNow();
    expect(h.range("ua")).toEqual([]);
  } finally {
    h.stop();
  }
});

test("a round reads at most 32 sandboxes at once", async () => {
  const many = Array.from({ length: 100 }, (_, i) => {
    const s = sandboxFixture({ metadata: { name: `s${i}`, namespace: "t", uid: `u${i}` } });
    s.status = {
      phase: "Running",
      podIP: "10.0.0.1",
      conditions: [conditionFixture("Ready", "True", "Ready")],
    };
    return s;
  });
  let inFlight = 0;
  let most = 0;
  const h = startMetricsHistory({
    all: () => many,
    read: async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return m(1);
    },
    log: createLogger("error"),
    intervalMs: 3_600_000,
  });
  try {
    await h.sampleNow();
    expect(most).toBe(32);
    expect(h.range("u99")).toHaveLength(1);
  } finally {
    h.stop();
  }
});
