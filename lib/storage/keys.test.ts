import { checkKey, checkMetadata, checkPrefix, resolveRange } from "./keys.js";

describe("checkKey", () => {
  it.each(["a", "snapshots/sb-1/layer.tar", "a.b/c-d_e", "ünïcode/ok", ".hidden/ok", "x/.blobs/y"])(
    "accepts %s",
    (key) => {
      expect(() => checkKey(key)).not.toThrow();
    },
  );
  it.each([
    ["", /empty/],
    ["/abs", /empty path segment/],
    ["a//b", /empty path segment/],
    ["a/", /empty path segment/],
    ["a/../b", /"\." or "\.\."/],
    ["./a", /"\." or "\.\."/],
    [".blobs/x", /reserved/],
    ["a/.tmp-1", /reserved/],
    ["a\\b", /backslash/],
    ["a\nb", /control character/],
    ["x".repeat(901), /longer than/],
  ])("refuses %j", (key, message) => {
    expect(() => checkKey(key)).toThrow(
      expect.objectContaining({ code: "InvalidArgument", message: expect.stringMatching(message) }),
    );
  });
});

describe("checkPrefix", () => {
  it.each(["", "a", "a/", "snap"])("accepts %j", (p) => expect(() => checkPrefix(p)).not.toThrow());
  it.each(["/a", "a\u0000"])("refuses %j", (p) =>
    expect(() => checkPrefix(p)).toThrow(expect.objectContaining({ code: "InvalidArgument" })),
  );
});

describe("checkMetadata", () => {
  it("accepts lower-case keys", () =>
    expect(() => checkMetadata({ "sandbox-id": "x", a1: "" })).not.toThrow());
  it.each([[{ Upper: "x" }], [{ "-lead": "x" }], [{ "a b": "x" }], [{ big: "x".repeat(9000) }]])(
    "refuses %j",
    (md) =>
      expect(() => checkMetadata(md)).toThrow(expect.objectContaining({ code: "InvalidArgument" })),
  );
});

describe("resolveRange", () => {
  it.each([
    [{ start: 0 }, 10, { start: 0, end: 10 }],
    [{ start: 3, end: 7 }, 10, { start: 3, end: 7 }],
    [{ start: 10 }, 10, { start: 10, end: 10 }],
    [{ start: 0, end: 0 }, 0, { start: 0, end: 0 }],
  ])("%j of %d", (range, size, want) => expect(resolveRange(range, size, "k")).toEqual(want));
  it.each([
    [{ start: 11 }, 10, /past the end/],
    [{ start: 0, end: 11 }, 10, /past the end/],
    [{ start: 5, end: 4 }, 10, /not a range/],
    [{ start: -1 }, 10, /not a range/],
    [{ start: 0.5 }, 10, /not a range/],
  ])("refuses %j of %d", (range, size, message) =>
    expect(() => resolveRange(range, size, "k")).toThrow(
      expect.objectContaining({ code: "InvalidArgument", message: expect.stringMatching(message) }),
    ),
  );
});
