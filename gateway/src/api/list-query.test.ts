import { ApiError } from "./errors.js";
import {
  decodeCursor,
  encodeCursor,
  paginate,
  parseLimit,
  parseListQuery,
  parseMetadataFilter,
  parseStates,
} from "./list-query.js";

const status = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof ApiError ? err.status : -1;
  }
  return 0;
};

// What the SDK sends for {"user": "a b", "k/x": "v=1"} after express decoded the query once.
const sdkEncoded = new URLSearchParams({
  [encodeURIComponent("user")]: encodeURIComponent("a b"),
  [encodeURIComponent("k/x")]: encodeURIComponent("v=1"),
}).toString();

test.each([
  [undefined, {}],
  ["user=abc", { user: "abc" }],
  ["user=abc&app=prod", { user: "abc", app: "prod" }],
  [["user=abc", "app=prod"], { user: "abc", app: "prod" }],
  [sdkEncoded, { user: "a b", "k/x": "v=1" }],
  ["pct=100%", { pct: "100%" }],
  ["flag", { flag: "" }],
])("metadata filter %j", (raw, expected) => {
  expect(parseMetadataFilter(raw)).toEqual(expected);
});

test.each([
  [undefined, undefined],
  ["running", ["running"]],
  ["running,paused", ["running", "paused"]],
  [
    ["paused", "running"],
    ["paused", "running"],
  ],
])("state %j", (raw, expected) => {
  const s = parseStates(raw);
  expect(s ? [...s] : undefined).toEqual(expected);
});

test.each([["stopped"], ["running,killed"]])("state %j is a 400", (raw) => {
  expect(status(() => parseStates(raw))).toBe(400);
});

test.each([
  [undefined, 100],
  ["1", 1],
  ["100", 100],
])("limit %j", (raw, n) => expect(parseLimit(raw)).toBe(n));

test.each([["0"], ["101"], ["-1"], ["1.5"], ["ten"], [["1", "2"]]])("limit %j is a 400", (raw) => {
  expect(status(() => parseLimit(raw))).toBe(400);
});

test("cursors round-trip, and foreign tokens are a 400", () => {
  const c = { startedAtMs: 1_700_000_000_123, id: "abc123" };
  expect(decodeCursor(encodeCursor(c))).toEqual(c);
  for (const bad of [
    "garbage",
    "",
    Buffer.from("[1]").toString("base64url"),
    Buffer.from('[1,"UPPER"]').toString("base64url"),
  ])
    expect(status(() => decodeCursor(bad))).toBe(400);
});

test("v1 ignores v2 parameters; v2 parses all", () => {
  expect(parseListQuery({ limit: "0", metadata: "a=b" }, false)).toMatchObject({
    metadata: { a: "b" },
  });
  expect(
    parseListQuery(
      {
        limit: "5",
        order: "asc",
        state: "paused",
        startedAfter: "2026-01-01T00:00:00Z",
        template: "base",
      },
      true,
    ),
  ).toMatchObject({
    limit: 5,
    order: "asc",
    template: "base",
    startedAfter: new Date("2026-01-01T00:00:00Z"),
  });
  expect(status(() => parseListQuery({ order: "up" }, true))).toBe(400);
  expect(status(() => parseListQuery({ startedAfter: "yesterday" }, true))).toBe(400);
});

const items = [
  { id: "b", startedAtMs: 2 },
  { id: "a", startedAtMs: 2 },
  { id: "c", startedAtMs: 1 },
  { id: "d", startedAtMs: 3 },
  { id: "e", startedAtMs: 3 },
];

test.each([
  ["asc" as const, ["c", "a", "b", "d", "e"]],
  ["desc" as const, ["e", "d", "b", "a", "c"]],
])("pages of 2 walk every item once in %s order, ties by id", (order, expected) => {
  const seen: string[] = [];
  let after;
  for (let i = 0; i < 10; i++) {
    const { page, next } = paginate(items, order, 2, after);
    seen.push(...page.map((x) => x.id));
    if (!next) break;
    after = decodeCursor(encodeCursor(next));
  }
  expect(seen).toEqual(expected);
});

test("the last full page has no next cursor", () => {
  expect(paginate(items, "asc", 5).next).toBeUndefined();
  expect(paginate(items, "asc", 4).next).toEqual({ id: "d", startedAtMs: 3 });
  expect(paginate([], "asc", 4)).toEqual({ page: [] });
});
