import { parseLogQuery, toE2bLogs } from "./logs.js";

const log = [
  "2026-01-01T00:00:00.100000000Z first",
  "2026-01-01T00:00:01.200000000Z second line",
  "garbage-without-timestamp",
  "2026-01-01T00:00:02.300000000Z ",
  "",
].join("\n");

test.each([
  [undefined, 10, ["first", "second line", ""]],
  [Date.parse("2026-01-01T00:00:01Z"), 10, ["second line", ""]],
  [undefined, 1, ["first"]],
])("from %s, limit %d", (start, limit, lines) => {
  const out = toE2bLogs(log, start, limit);
  expect(out.logs.map((l) => l.line)).toEqual(lines);
  expect(out.logEntries.map((l) => l.message)).toEqual(lines);
  expect(
    out.logEntries.every((e) => e.level === "info" && Object.keys(e.fields).length === 0),
  ).toBe(true);
});

test("timestamps are RFC 3339 with milliseconds", () => {
  expect(toE2bLogs(log, undefined, 1).logs[0]?.timestamp).toBe("2026-01-01T00:00:00.100Z");
});

test.each([
  [undefined, undefined, { limit: 1000 }],
  ["1700000000000", "5", { startMs: 1700000000000, limit: 5 }],
  ["soon", undefined, "start must be a time in milliseconds since the epoch"],
  [undefined, "0", "limit must be a whole number of at least 1"],
])("query start=%j limit=%j", (start, limit, expected) => {
  expect(parseLogQuery(start, limit)).toEqual(expected);
});
