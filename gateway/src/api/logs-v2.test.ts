import { parseIntParam, parseLogsV2Query, toE2bLogsV2, type LogsV2Query } from "./logs-v2.js";

const P = (name: string, problem: string) => ({
  error: `parameter "${name}" in query has an error: ${problem}`,
});

test.each<[string, Record<string, unknown>, ReturnType<typeof parseLogsV2Query>]>([
  ["defaults", {}, { limit: 1000, direction: "backward" }],
  [
    "all given",
    { cursor: "1700000000000", limit: "5", direction: "forward" },
    { cursorMs: 1700000000000, limit: 5, direction: "forward" },
  ],
  ["limit 0", { limit: "0" }, { limit: 0, direction: "backward" }],
  ["limit 1000", { limit: "1000" }, { limit: 1000, direction: "backward" }],
  [
    "cursor not a number",
    { cursor: "abc" },
    P("cursor", "value abc: an invalid integer: invalid syntax"),
  ],
  [
    "cursor fraction",
    { cursor: "1.5" },
    P("cursor", "value 1.5: an invalid integer: invalid syntax"),
  ],
  ["cursor negative", { cursor: "-5" }, P("cursor", "number must be at least 0")],
  ["limit too big", { limit: "1001" }, P("limit", "number must be at most 1000")],
  ["limit negative", { limit: "-1" }, P("limit", "number must be at least 0")],
  ["limit empty", { limit: "" }, P("limit", "value : an invalid integer: invalid syntax")],
  [
    "direction unknown",
    { direction: "sideways" },
    P("direction", 'value is not one of the allowed values ["forward","backward"]'),
  ],
])("parseLogsV2Query: %s", (_name, q, want) => {
  expect(parseLogsV2Query(q)).toEqual(want);
});

test.each<[string, unknown, number | undefined | { error: string }]>([
  ["absent", undefined, undefined],
  ["plus sign", "+7", 7],
  ["repeated: the first", ["3", "4"], 3],
  [
    "too large for a safe integer",
    "99999999999999999999",
    P("n", "value 99999999999999999999: an invalid integer: invalid syntax"),
  ],
])("parseIntParam: %s", (_name, raw, want) => {
  expect(parseIntParam("n", raw, 0)).toEqual(want);
});

const LOG = [
  "2030-01-01T00:00:01.000000001Z one",
  "2030-01-01T00:00:02.000000001Z two",
  "2030-01-01T00:00:03.000000001Z three",
  "no timestamp here",
  "2030-01-01T00:00:04.000000001Z four",
  "",
].join("\n");
const T = (s: number) => Date.parse(`2030-01-01T00:00:0${s}Z`);

test.each<[string, LogsV2Query, string[]]>([
  ["forward, no cursor", { limit: 1000, direction: "forward" }, ["one", "two", "three", "four"]],
  ["backward, no cursor", { limit: 1000, direction: "backward" }, ["four", "three", "two", "one"]],
  ["backward, limit", { limit: 2, direction: "backward" }, ["four", "three"]],
  [
    "forward from a cursor",
    { cursorMs: T(2), limit: 1000, direction: "forward" },
    ["two", "three", "four"],
  ],
  [
    "backward from a cursor",
    { cursorMs: T(3), limit: 1000, direction: "backward" },
    ["three", "two", "one"],
  ],
  ["limit 0", { limit: 0, direction: "forward" }, []],
  ["cursor after everything, forward", { cursorMs: T(9), limit: 10, direction: "forward" }, []],
])("toE2bLogsV2: %s", (_name, q, messages) => {
  const out = toE2bLogsV2(LOG, q);
  expect(out.map((e) => e.message)).toEqual(messages);
  for (const e of out)
    expect(e).toEqual({
      timestamp: expect.any(String),
      level: "info",
      message: e.message,
      fields: {},
    });
});
