/**
 * Capture and restore on real overlay mounts (the way containerd mounts a container's root
 * filesystem): changes made through one merged view, including deletions (overlay whiteouts)
 * and a replaced directory (an opaque one), are captured into a real file store and applied to
 * a second container's merged view of the same image, which then reads the same. Needs root
 * (mount), like the node agent itself.
 */
import { execFileSync } from "node:child_process";
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { getAttribute, setAttribute } from "fs-xattr";
import tar from "tar-stream";
import { openObjectStore, type ObjectStore } from "../../lib/storage/index.js";
import { createNodeCache, type NodeCache } from "../../lib/storage/node-cache.js";
import { capture } from "./capture.js";
import { applyLayer } from "./layer-apply.js";
import { markerPath, restore } from "./restore.js";

const ID1 = "a".repeat(64);
const ID2 = "b".repeat(64);
const ID3 = "c".repeat(64);
const POD = "0b6f7a2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c";
let base: string;
let state: string;
let store: ObjectStore;
let cache: NodeCache;
const mounted: string[] = [];

/** A container bundle as containerd's shim lays it out, its rootfs a real overlay of `lower`. */
async function container(id: string, lower: string, mounts: string[] = []): Promise<string> {
  const bundle = join(state, "io.containerd.runtime.v2.task", "k8s.io", id);
  const rootfs = join(bundle, "rootfs");
  const upper = join(base, `upper-${id.slice(0, 4)}`);
  const work = join(base, `work-${id.slice(0, 4)}`);
  await Promise.all([rootfs, upper, work].map((d) => mkdir(d, { recursive: true })));
  await writeFile(
    join(bundle, "config.json"),
    JSON.stringify({ mounts: mounts.map((destination) => ({ destination })) }),
  );
  execFileSync("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    rootfs,
  ]);
  mounted.push(rootfs);
  return rootfs;
}

/** Every entry under `root`: type, mode, owner, content or link target, user xattrs. */
async function tree(root: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = join(root, rel, name);
    const st = await lstat(path);
    const what = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? `link->${await readlink(path)}`
        : `file:${await readFile(path, "utf8")}`;
    const xattr = st.isFile() ? await getAttribute(path, "user.note").then(String, () => "") : "";
    out[`${rel}${name}`] = `${what} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${xattr}`;
    if (st.isDirectory()) Object.assign(out, await tree(root, `${rel}${name}/`));
  }
  return out;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "sbx-layer-"));
  state = join(base, "state");
  const lower = join(base, "lower");
  await mkdir(join(lower, "dir"), { recursive: true });
  await mkdir(join(lower, "replaced"), { recursive: true });
  await mkdir(join(lower, "mnt"), { recursive: true });
  await writeFile(join(lower, "keep.txt"), "image\n");
  await writeFile(join(lower, "gone.txt"), "delete me\n");
  await writeFile(join(lower, "dir", "old.txt"), "old\n");
  await writeFile(join(lower, "replaced", "hidden.txt"), "hidden by an opaque dir\n");
  await mkdir(join(base, "store"));
  store = await openObjectStore(`file://${join(base, "store")}`);
  cache = await createNodeCache({ dir: join(base, "cache"), maxBytes: 1 << 30 });
});

afterAll(async () => {
  for (const m of mounted.reverse()) execFileSync("umount", [m]);
  await cache.close();
  await store.close();
  await rm(base, { recursive: true, force: true });
});

test("what a container changed comes back in a new container of the same image, deletions and all", async () => {
  const lower = join(base, "lower");
  const one = await container(ID1, lower, ["/mnt"]);
  await writeFile(join(one, "keep.txt"), "changed\n");
  await rm(join(one, "gone.txt"));
  await rm(join(one, "replaced"), { recursive: true });
  await mkdir(join(one, "replaced"));
  await writeFile(join(one, "replaced", "new.txt"), "new\n");
  await mkdir(join(one, "home", "user", "deep"), { recursive: true });
  await writeFile(join(one, "home", "user", "deep", "notes.md"), "# notes\n");
  await chown(join(one, "home", "user"), 1000, 1000);
  await writeFile(join(one, "home", "user", "run.sh"), "#!/bin/sh\n");
  await chmod(join(one, "home", "user", "run.sh"), 0o4751);
  await setAttribute(join(one, "home", "user", "run.sh"), "user.note", "kept");
  await symlink("../keep.txt", join(one, "dir", "to-keep"));
  await link(join(one, "home", "user", "run.sh"), join(one, "dir", "hard"));
  await writeFile(join(one, "mnt", "volume.txt"), "a mount's file is not the container's\n");
  const expected = await tree(one);
  delete expected["mnt/volume.txt"];

  const result = await capture(
    { id: "s1", containerID: `containerd://${ID1}`, key: "snap/fs.tar.zst" },
    { store, containerdState: state },
  );
  expect(result).toMatchObject({ key: "snap/fs.tar.zst", skipped: [] });
  expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(result.entries).toBeGreaterThanOrEqual(10);

  const two = await container(ID2, lower, ["/mnt"]);
  const kubeletRoot = join(base, "kubelet");
  const req = {
    id: "p1",
    containerID: ID2,
    podUID: POD,
    volume: "soulbox",
    key: result.key,
    sha256: result.sha256,
  };
  const restored = await restore(req, { store, cache, containerdState: state, kubeletRoot });
  expect(restored.applied).toBe(true);
  expect(await tree(two)).toEqual(expected);
  expect(await lstat(markerPath(kubeletRoot, POD, "soulbox"))).toBeTruthy();
  // Again (an operator that restarted): the marker says it is done, nothing is applied twice.
  expect(await restore(req, { store, cache, containerdState: state, kubeletRoot })).toMatchObject({
    applied: false,
  });
});

test("a layer whose bytes do not match its sha256 is refused before anything is written", async () => {
  const info = await store.head("snap/fs.tar.zst");
  const three = await container(ID3, join(base, "lower"));
  const before = await tree(three);
  const kubeletRoot = join(base, "kubelet3");
  const deps = { store, containerdState: state, kubeletRoot };
  const wrong = {
    id: "p3",
    containerID: ID3,
    podUID: POD,
    volume: "soulbox",
    key: info.key,
    sha256: "0".repeat(64),
  };
  await expect(restore(wrong, deps)).rejects.toMatchObject({ code: "IntegrityMismatch" });

  // Corrupt the stored bytes themselves (one byte of the blob the manifest points at).
  const blobs = join(base, "store", ".blobs");
  const [blob] = await readdir(blobs);
  const path = join(blobs, blob ?? "");
  const bytes = await readFile(path);
  bytes.writeUInt8((bytes.readUInt8(bytes.length >> 1) ^ 0xff) & 0xff, bytes.length >> 1);
  await writeFile(path, bytes);
  const fresh = await createNodeCache({ dir: join(base, "cache3"), maxBytes: 1 << 30 });
  try {
    await expect(
      restore({ ...wrong, sha256: info.sha256 }, { ...deps, cache: fresh }),
    ).rejects.toMatchObject({ code: "IntegrityMismatch" });
  } finally {
    await fresh.close();
  }
  expect(await tree(three)).toEqual(before);
  await expect(lstat(markerPath(kubeletRoot, POD, "soulbox"))).rejects.toThrow(/ENOENT/);
});

/** A tar of `entries` (header, body) as a stream. */
function layer(
  entries: [tar.Header | { name: string; type?: tar.Header["type"]; linkname?: string }, string?][],
): Readable {
  const pack = tar.pack();
  for (const [header, body] of entries) pack.entry(header, body ?? "");
  pack.finalize();
  return pack as unknown as Readable;
}

test("a layer entry that climbs out of the root is refused", async () => {
  const root = await mkdtemp(join(base, "root-"));
  await expect(
    applyLayer(layer([[{ name: "a/../../escaped.txt" }, "x"]]), root),
  ).rejects.toMatchObject({ code: "InvalidArgument" });
  await expect(lstat(join(base, "escaped.txt"))).rejects.toThrow(/ENOENT/);
});

test("an entry under a symbolic link is skipped, never written through it", async () => {
  const root = await mkdtemp(join(base, "root-"));
  const outside = await mkdtemp(join(base, "outside-"));
  const summary = await applyLayer(
    layer([
      [{ name: "etc", type: "symlink", linkname: outside }],
      [{ name: "etc/passwd" }, "owned\n"],
      [{ name: "ok.txt" }, "fine\n"],
    ]),
    root,
  );
  expect(await readdir(outside)).toEqual([]);
  expect(summary.skipped).toEqual([expect.stringMatching(/^\/etc\/passwd \(a parent is a link/)]);
  expect(await readFile(join(root, "ok.txt"), "utf8")).toBe("fine\n");
});
