import {
  bareContainerId,
  mountDestinations,
  overlayUpperdir,
  parseMountinfo,
} from "./container-rootfs.js";
import { isUnderAny } from "./layer-writer.js";
import { entryKind, layerPathParts } from "./layer-apply.js";
import { markerPath } from "./restore.js";
import { requireStrings } from "./server.js";

const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

test("parseMountinfo reads the mount point, type and super options, undoing octal escapes", () => {
  const text = [
    "36 35 98:0 / /run/c/k8s.io/abc/rootfs rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/c/snapshots/7/fs,workdir=/var/lib/c/snapshots/7/work",
    "37 35 0:5 / /with\\040space rw shared:2 master:1 - tmpfs tmp rw,size=10k",
    "garbage",
  ].join("\n");
  expect(parseMountinfo(text)).toEqual([
    {
      mountPoint: "/run/c/k8s.io/abc/rootfs",
      fsType: "overlay",
      source: "overlay",
      superOptions:
        "rw,lowerdir=/l1:/l2,upperdir=/var/lib/c/snapshots/7/fs,workdir=/var/lib/c/snapshots/7/work",
    },
    { mountPoint: "/with space", fsType: "tmpfs", source: "tmp", superOptions: "rw,size=10k" },
  ]);
});

test.each([
  ["rw,lowerdir=/a,upperdir=/u/fs,workdir=/w", "/u/fs"],
  ["rw,upperdir=/with\\040space,workdir=/w", "/with space"],
  ["rw,lowerdir=/a", undefined],
])("overlayUpperdir(%s) is %s", (options, upper) => {
  expect(overlayUpperdir(options)).toBe(upper);
});

test.each([
  [`containerd://${ID}`, ID],
  [ID, ID],
])("bareContainerId(%s)", (given, id) => {
  expect(bareContainerId(given)).toBe(id);
});

test.each(["containerd://../../etc", "", "containerd://XYZ", "abc/def"])(
  "bareContainerId refuses %j",
  (given) => {
    expect(() => bareContainerId(given)).toThrow(/is not a container id/);
  },
);

test("mountDestinations lists the spec's mounts but the root, without trailing slashes", () => {
  const spec = {
    mounts: [
      { destination: "/proc" },
      { destination: "/soulbox/" },
      { destination: "/" },
      { destination: "relative" },
      {},
    ],
  };
  expect(mountDestinations(spec)).toEqual(["/proc", "/soulbox"]);
  expect(mountDestinations({})).toEqual([]);
});

test.each([
  ["/proc", true],
  ["/proc/1/status", true],
  ["/process", false],
  ["/etc/hosts", true],
  ["/etc/hostname", false],
])("isUnderAny(%s) against /proc and /etc/hosts is %s", (path, under) => {
  expect(isUnderAny(path, ["/proc", "/etc/hosts"])).toBe(under);
});

test.each([
  ["a/b/c", ["a", "b", "c"]],
  ["./a/b/", ["a", "b"]],
])("layerPathParts(%s)", (name, parts) => {
  expect(layerPathParts(name)).toEqual(parts);
});

test.each(["../etc/passwd", "a/../../x", "/etc/passwd", "", "a//b", "./"])(
  "layerPathParts refuses %j (it would leave the root)",
  (name) => {
    expect(() => layerPathParts(name)).toThrow(/layer entry/);
  },
);

test.each([
  [["a", ".wh..wh..opq"], "opaque"],
  [["a", ".wh.gone"], "whiteout"],
  [["a", "file"], "plain"],
])("entryKind(%j) is %s", (parts, kind) => {
  expect(entryKind(parts)).toBe(kind);
});

test("markerPath places the marker in the pod's emptyDir and refuses bad names", () => {
  expect(markerPath("/var/lib/kubelet", "0b6f7a2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c", "soulbox")).toBe(
    "/var/lib/kubelet/pods/0b6f7a2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c/volumes/kubernetes.io~empty-dir/soulbox/run/restored",
  );
  expect(() => markerPath("/k", "../../etc", "soulbox")).toThrow(/not a pod uid/);
  expect(() => markerPath("/k", "0b6f7a2c-1d2e", "../x")).toThrow(/not a volume name/);
});

test("requireStrings names the first missing or empty field", () => {
  expect(requireStrings({ a: "1", b: "2" }, ["a", "b"])).toEqual({ a: "1", b: "2" });
  expect(() => requireStrings({ a: "1", b: "" }, ["a", "b"])).toThrow(/"b" is required/);
  expect(() => requireStrings({ a: 3 }, ["a"])).toThrow(/"a" is required/);
});
