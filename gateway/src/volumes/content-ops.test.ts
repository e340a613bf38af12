import { ApiError } from "../api/errors.js";
import { contentError, volumePath } from "./content-ops.js";
import { boolParam, uint32Param } from "./content-routes.js";
import { CONTENT_HELPER } from "./content-helper.js";

test.each<[unknown, string | RegExp]>([
  ["/a/b.txt", "/a/b.txt"],
  ["a/b.txt", "/a/b.txt"],
  ["/a//b/", "/a/b"],
  ["/", "/"],
  ["/../../etc/passwd", "/etc/passwd"],
  ["/a/../../x", "/x"],
  ["", /path query parameter is required/],
  [undefined, /path query parameter is required/],
  [["/a", "/b"], /path query parameter is required/],
])("volume path %j", (raw, want) => {
  if (typeof want === "string") expect(volumePath(raw)).toBe(want);
  else expect(() => volumePath(raw)).toThrow(want);
});

test.each<[string, number, string]>([
  ["ENOENT", 404, "Path /x not found"],
  ["ENOTDIR", 404, "Path /x not found"],
  ["EEXIST", 409, "Path /x already exists"],
  ["EISDIR", 409, "Path /x is a directory"],
  ["EACCES", 403, "Path /x: permission denied"],
  ["EINVAL", 400, "Path /x: bad"],
  ["ENOSPC", 507, "the volume is full (/x)"],
  ["EIO", 500, "volume operation on /x failed: EIO bad"],
])("%s is %d", (code, status, message) => {
  const e = contentError(code, "/x", "bad");
  expect(e).toBeInstanceOf(ApiError);
  expect([e.status, e.message]).toEqual([status, message]);
});

test.each<[unknown, number | undefined | RegExp]>([
  [undefined, undefined],
  ["", undefined],
  ["0", 0],
  ["420", 420],
  ["4294967295", 4294967295],
  ["4294967296", /unsigned integer/],
  ["-1", /unsigned integer/],
  ["1.5", /unsigned integer/],
])("uint32 %j", (raw, want) => {
  if (want instanceof RegExp) expect(() => uint32Param(raw, "uid")).toThrow(want);
  else expect(uint32Param(raw, "uid")).toBe(want);
});

test.each<[unknown, boolean | undefined | RegExp]>([
  [undefined, undefined],
  ["true", true],
  ["false", false],
  ["yes", /true or false/],
])("bool %j", (raw, want) => {
  if (want instanceof RegExp) expect(() => boolParam(raw, "force")).toThrow(want);
  else expect(boolParam(raw, "force")).toBe(want);
});

test("the helper program is valid JavaScript", () => {
  // Parsed, not run: it runs in the content sandbox.
  expect(() => new Function("require", "process", CONTENT_HELPER)).not.toThrow();
});
