/**
 * The node cache's write-through puts against the real file backend: the object is stored and
 * kept on the node's disk, so the next open reads nothing from the store; a put that fails keeps
 * nothing; an object too large is stored but not kept; the copy survives a restart. And the file
 * copy's own fault: a failed write abandons the copy, never the stream.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Registry } from "prom-client";
import { createNodeCache, type NodeCache } from "./node-cache.js";
import { startFileCopy } from "./node-cache-copy.js";
import { openObjectStore, type ObjectStore } from "./index.js";
import { isStorageError } from "./object-store.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const read = async (s: Readable) => Buffer.concat(await s.toArray());

let root = "";
let store: ObjectStore | undefined;
let cache: NodeCache | undefined;
let registry = new Registry();

async function setup(maxBytes = 1 << 30): Promise<{ store: ObjectStore; cache: NodeCache }> {
  root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-put-"));
  store = await openObjectStore(`file://${join(root, "store")}`);
  registry = new Registry();
  cache = await createNodeCache({ dir: join(root, "cache"), maxBytes, registry });
  return { store, cache };
}

afterEach(async () => {
  await cache?.close();
  await store?.close();
  await rm(root, { recursive: true, force: true });
  cache = store = undefined;
});

async function* chunksOf(bytes: Buffer, size = 64 << 10): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function originBytes(): Promise<number> {
  const m = registry.getSingleMetric("soulbox_storage_cache_bytes_total");
  const { values } = (await m?.get()) ?? { values: [] };
  return values.filter((v) => v.labels.source === "origin").reduce((n, v) => n + v.value, 0);
}

const tmpFiles = async () => readdir(join(root, "cache", "tmp"));

describe("putThrough", () => {
  it("stores the object and serves the next open from the node's disk", async () => {
    const { store, cache } = await setup();
    const bytes = randomBytes(3 << 20);
    const info = await cache.putThrough(store, "snap/a", chunksOf(bytes));
    expect(info).toMatchObject({ key: "snap/a", size: bytes.length, sha256: sha(bytes) });
    expect(sha(await read(await store.get("snap/a")))).toBe(sha(bytes));

    const got = await cache.open(store, "snap/a");
    expect(got.hit).toBe(true);
    expect(sha(await read(got.stream))).toBe(sha(bytes));
    expect(await originBytes()).toBe(0);
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: bytes.length });
  });

  it("keeps the copy across a restart of the cache", async () => {
    const { store } = await setup();
    const bytes = randomBytes(1 << 20);
    await cache!.putThrough(store, "snap/b", chunksOf(bytes));
    await cache!.close(); // waits for the copy's admission, saves the state
    registry = new Registry();
    cache = await createNodeCache({ dir: join(root, "cache"), maxBytes: 1 << 30, registry });
    const got = await cache.open(store, "snap/b");
    expect(got.hit).toBe(true);
    expect(sha(await read(got.stream))).toBe(sha(bytes));
  });

  it("keeps nothing, in the store or on disk, when the body fails midway", async () => {
    const { store, cache } = await setup();
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(1 << 20);
      throw new Error("the container went away");
    }
    await expect(cache.putThrough(store, "snap/c", failing())).rejects.toThrow(
      /the container went away/,
    );
    const head = await store.head("snap/c").catch((e: unknown) => e);
    expect(isStorageError(head, "NotFound")).toBe(true);
    expect(await tmpFiles()).toEqual([]);
    expect(cache.stats().entries).toBe(0);
  });

  it("stores an object larger than the cache without keeping it", async () => {
    const { store, cache } = await setup(1 << 20);
    const bytes = randomBytes(2 << 20);
    const info = await cache.putThrough(store, "snap/d", chunksOf(bytes));
    expect(info.size).toBe(bytes.length);
    const got = await cache.open(store, "snap/d");
    expect(got.hit).toBe(false);
    expect(sha(await read(got.stream))).toBe(sha(bytes));
    await cache.close(); // waits for the copy's end in the background
    expect(cache.stats().entries).toBe(0);
    expect(await tmpFiles()).toEqual([]);
  });
});

describe("startFileCopy", () => {
  it("passes every chunk on and abandons the copy when a write fails", async () => {
    root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-put-"));
    const path = join(root, "copy");
    await (await open(path, "w")).close();
    const readOnly = await open(path, "r"); // every write fails with EBADF
    const copy = startFileCopy(readOnly, path);
    const bytes = randomBytes(256 << 10);
    const passed: Uint8Array[] = [];
    for await (const chunk of copy.tee(chunksOf(bytes, 10_000))) passed.push(chunk);
    expect(sha(Buffer.concat(passed))).toBe(sha(bytes));
    expect(await copy.finish(bytes.length)).toBe(false);
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("writes a whole copy that finish accepts only at the right size", async () => {
    root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-put-"));
    const bytes = randomBytes(300_000);
    const good = join(root, "good");
    const copy = startFileCopy(await open(good, "wx"), good);
    for await (const chunk of copy.tee(chunksOf(bytes, 7_000))) void chunk;
    expect(await copy.finish(bytes.length)).toBe(true);
    expect(sha(await readFile(good))).toBe(sha(bytes));

    const short = join(root, "short");
    const other = startFileCopy(await open(short, "wx"), short);
    for await (const chunk of other.tee(chunksOf(bytes))) void chunk;
    expect(await other.finish(bytes.length + 1)).toBe(false);
    await expect(readFile(short)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("abandons a copy past its limit but passes the whole stream on", async () => {
    root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-put-"));
    const bytes = randomBytes(200_000);
    const path = join(root, "capped");
    const copy = startFileCopy(await open(path, "wx"), path, 100_000);
    const passed: Uint8Array[] = [];
    for await (const chunk of copy.tee(chunksOf(bytes, 30_000))) passed.push(chunk);
    expect(sha(Buffer.concat(passed))).toBe(sha(bytes));
    expect(await copy.finish(bytes.length)).toBe(false);
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
