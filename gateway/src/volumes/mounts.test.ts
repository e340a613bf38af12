import { ApiError } from "../api/errors.js";
import { checkVolumeMounts, mountPathProblem, parseVolumeMounts } from "./mounts.js";

const claims = new Map([
  ["data", "volume-1"],
  ["cache", "volume-2"],
]);
const check = (mounts: { name: string; path: string }[]) =>
  checkVolumeMounts(mounts, (n) => claims.get(n));
const refusal = (f: () => unknown): ApiError | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
};

test.each<[string, string | undefined]>([
  ["/data", undefined],
  ["/home/user/work", undefined],
  ["/procfs", undefined],
  ["", "path cannot be empty"],
  ["data", "path must be absolute"],
  ["./data", "path must be absolute"],
  ["/data/", "path must not contain any '.' or '..' components"],
  ["/data/../etc", "path must not contain any '.' or '..' components"],
  ["/a/./b", "path must not contain any '.' or '..' components"],
  ["//data", "path must not contain any '.' or '..' components"],
  ["/", "path must not be '/'"],
  ["/proc", "path '/proc' is reserved: nothing may be mounted at or under /proc"],
  ["/proc/1", "path '/proc/1' is reserved: nothing may be mounted at or under /proc"],
  ["/sys/fs", "path '/sys/fs' is reserved: nothing may be mounted at or under /sys"],
  ["/dev", "path '/dev' is reserved: nothing may be mounted at or under /dev"],
  ["/soulbox/kit", "path '/soulbox/kit' is reserved: nothing may be mounted at or under /soulbox"],
])("mount path %j", (path, problem) => {
  expect(mountPathProblem(path)).toBe(problem);
});

test("good mounts become claim mounts, in order", () => {
  expect(
    check([
      { name: "data", path: "/data" },
      { name: "cache", path: "/cache" },
      { name: "data", path: "/data2" },
    ]),
  ).toEqual([
    { volume: "volume-1", path: "/data" },
    { volume: "volume-2", path: "/cache" },
    { volume: "volume-1", path: "/data2" },
  ]);
});

test.each<[string, { name: string; path: string }[], string]>([
  [
    "an unknown volume",
    [{ name: "nope", path: "/data" }],
    "invalid mounts:\n\t- volume mount #0: volume 'nope' not found",
  ],
  [
    "a relative path",
    [{ name: "data", path: "data" }],
    "invalid mounts:\n\t- volume mount #0: path must be absolute",
  ],
  [
    "a duplicate path",
    [
      { name: "data", path: "/data" },
      { name: "cache", path: "/data" },
    ],
    "invalid mounts:\n\t- volume mount #1: path '/data' is already used",
  ],
  [
    "every problem at once, by index",
    [
      { name: "x", path: "/x" },
      { name: "data", path: "/proc" },
      { name: "cache", path: "/ok" },
    ],
    "invalid mounts:\n\t- volume mount #0: volume 'x' not found\n\t- volume mount #1: path '/proc' is reserved: nothing may be mounted at or under /proc",
  ],
])("%s is a 400 in E2B's words", (_name, mounts, message) => {
  const r = refusal(() => check(mounts));
  expect(r?.status).toBe(400);
  expect(r?.message).toBe(message);
});

test.each<[unknown, RegExp | undefined]>([
  [undefined, undefined],
  [null, undefined],
  [[], undefined],
  [[{ name: "a", path: "/a" }], undefined],
  ["x", /must be a list/],
  [[{ name: "a" }], /volumeMounts\[0\]/],
  [[{ name: 1, path: "/a" }], /volumeMounts\[0\]/],
  [[null], /volumeMounts\[0\]/],
])("volumeMounts shape %j", (value, problem) => {
  const r = refusal(() => parseVolumeMounts(value));
  if (problem) expect(r?.message).toMatch(problem);
  else expect(r).toBeUndefined();
});
