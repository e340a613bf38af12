/**
 * The node cache against the real file backend (temp dirs, in-process streams): fills, hits,
 * ranges, single flight, the size cap and pins, integrity on disk, faults of the origin,
 * restarts, metrics, prefetch and warm-up.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { Registry } from "prom-client";
import { createNodeCache, type NodeCache, type NodeCacheOptions } from "./node-cache.js";
import { openObjectStore, type ObjectStore } from "./index.js";
import { StorageError, isStorageError } from "./object-store.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const read = async (s: Readable) => Buffer.concat(await s.toArray());
/** Same bytes (jest's deep equality walks a Buffer byte by byte: minutes for a few MiB). */
const expectSame = (got: Uint8Array, want: Uint8Array | undefined) => {
  expect(got.length).toBe(want?.length);
  expect(sha(got)).toBe(sha(want ?? new Uint8Array()));
};

interface Env {
  root: string;
  storeDir: string;
  cacheDir: string;
  store: ObjectStore;
  registry: Registry;
  cache: NodeCache;
  clock: { t: number };
}

let env: Env | undefined;
const toClose: NodeCache[] = [];

/** A fresh store and cache in a temp dir; the clock moves one second per reading. */
async function setup(opts: Partial<NodeCacheOptions> = {}): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-"));
  const storeDir = join(root, "store");
  const cacheDir = join(root, "cache");
  const store = await openObjectStore(`file://${storeDir}`);
  const registry = new Registry();
  const clock = { t: 1_000_000 };
  const cache = await createNodeCache({
    dir: cacheDir,
    maxBytes: 1 << 30,
    registry,
    now: () => (clock.t += 1000),
    ...opts,
  });
  env = { root, storeDir, cacheDir, store, registry, cache, clock };
  return env;
}

/** Closes `e.cache` and opens the cache on the same dir again, with a new registry. */
async function restart(e: Env, opts: Partial<NodeCacheOptions> = {}): Promise<void> {
  await e.cache.close();
  e.registry = new Registry();
  e.cache = await createNodeCache({
    dir: e.cacheDir,
    maxBytes: e.cache.maxBytes,
    registry: e.registry,
    now: () => (e.clock.t += 1000),
    ...opts,
  });
}

afterEach(async () => {
  for (const c of toClose.splice(0)) await c.close();
  if (!env) return;
  await env.cache.close();
  await env.store.close();
  await rm(env.root, { recursive: true, force: true });
  env = undefined;
});

/** The sum of a metric's values whose labels include `labels`. */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

const entryPath = (e: Env, digest: string) =>
  join(e.cacheDir, "sha256", digest.slice(0, 2), digest);
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
/** Entry files on disk (names), and the files in tmp/ that are not the state file's temp. */
async function onDisk(e: Env): Promise<{ entries: string[]; tmp: string[] }> {
  const entries: string[] = [];
  for (const shard of await readdir(join(e.cacheDir, "sha256")))
    entries.push(...(await readdir(join(e.cacheDir, "sha256", shard))));
  const tmp = (await readdir(join(e.cacheDir, "tmp"))).filter((n) => !n.startsWith("state."));
  return { entries: entries.sort(), tmp };
}

/** The file backend's blob of `key` (its manifest, a JSON file under the key, names it). */
async function blobOf(e: Env, key: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(e.storeDir, key), "utf8")) as { blob: string };
  return join(e.storeDir, manifest.blob);
}

/** Waits for `cond` with a deadline (no fixed sleeps). */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a miss fetches the object once into a file named by its sha256; the next open is a hit", async () => {
  const e = await setup();
  const bytes = randomBytes(300_000);
  await e.store.put("layers/a", bytes);

  const first = await e.cache.open(e.store, "layers/a");
  expect(first.hit).toBe(false);
  expect(first.info.sha256).toBe(sha(bytes));
  expectSame(await read(first.stream), bytes);
  expectSame(await readFile(entryPath(e, sha(bytes))), bytes);

  const second = await e.cache.open(e.store, "layers/a");
  expect(second.hit).toBe(true);
  expectSame(await read(second.stream), bytes);

  const m = (name: string, labels: Record<string, string>) => metric(e.registry, name, labels);
  const requests = "soulbox_storage_cache_requests_total";
  expect(await m(requests, { level: "manifest", result: "miss" })).toBe(1);
  expect(await m(requests, { level: "manifest", result: "hit" })).toBe(1);
  expect(await m(requests, { level: "node-disk", result: "miss" })).toBe(1);
  expect(await m(requests, { level: "node-disk", result: "hit" })).toBe(1);
  expect(await m(requests, { level: "origin", result: "hit" })).toBe(1);
  expect(await m("soulbox_storage_cache_bytes_total", { source: "origin" })).toBe(bytes.length);
  await until(
    async () =>
      (await m("soulbox_storage_cache_bytes_total", { source: "node-disk" })) === 2 * bytes.length,
    "node-disk bytes counted on close",
  );
  expect(await m("soulbox_storage_cache_size_bytes", {})).toBe(bytes.length);
  expect(await m("soulbox_storage_cache_entries", {})).toBe(1);
  const text = await e.registry.metrics();
  for (const name of [
    "soulbox_storage_cache_requests_total",
    "soulbox_storage_cache_bytes_total",
    "soulbox_storage_cache_evictions_total",
    "soulbox_storage_cache_size_bytes",
    "soulbox_storage_cache_prefetch_total",
  ])
    expect(text).toContain(`# TYPE ${name}`);
});

test("objects with the same bytes under two keys share one entry", async () => {
  const e = await setup();
  const bytes = randomBytes(1000);
  await e.store.put("a", bytes);
  await e.store.put("b", bytes);
  expect((await e.cache.open(e.store, "a")).hit).toBe(false);
  const b = await e.cache.open(e.store, "b");
  expect(b.hit).toBe(true);
  expectSame(await read(b.stream), bytes);
  expect((await onDisk(e)).entries).toEqual([sha(bytes)]);
});

test.each([
  { name: "first byte", range: { start: 0, end: 1 } },
  { name: "from an offset to the end", range: { start: 70_000 } },
  { name: "the middle", range: { start: 12_345, end: 99_999 } },
  { name: "empty, at the end", range: { start: 100_000, end: 100_000 } },
  { name: "the whole object", range: { start: 0, end: 100_000 } },
])("ranges are served from the disk file, on a miss and on a hit: $name", async ({ range }) => {
  const e = await setup();
  const bytes = randomBytes(100_000);
  await e.store.put("r", bytes);
  const want = bytes.subarray(range.start, range.end);
  const miss = await e.cache.open(e.store, "r", { range });
  expect(miss.hit).toBe(false);
  expectSame(await read(miss.stream), want);
  const hit = await e.cache.open(e.store, "r", { range });
  expect(hit.hit).toBe(true);
  expectSame(await read(hit.stream), want);
  // A range miss still caches the whole object.
  expectSame(await readFile(entryPath(e, sha(bytes))), bytes);
});

test.each([
  { name: "negative start", range: { start: -1 } },
  { name: "end before start", range: { start: 10, end: 5 } },
  { name: "not a whole number", range: { start: 1.5 } },
  { name: "past the end", range: { start: 0, end: 1001 } },
])("a bad range is refused before anything is fetched: $name", async ({ range }) => {
  const e = await setup();
  await e.store.put("r", randomBytes(1000));
  const err = await e.cache.open(e.store, "r", { range }).catch((x: unknown) => x);
  expect(isStorageError(err, "InvalidArgument")).toBe(true);
  expect((await onDisk(e)).entries).toEqual([]);
});

test("concurrent opens of one sha256 share one fetch", async () => {
  const e = await setup();
  const bytes = randomBytes(8 << 20);
  await e.store.put("big", bytes);
  await e.store.put("big-again", bytes);
  const opens = await Promise.all([
    ...Array.from({ length: 5 }, () => e.cache.open(e.store, "big")),
    e.cache.open(e.store, "big-again"),
  ]);
  for (const o of opens) expectSame(await read(o.stream), bytes);
  expect(await metric(e.registry, "soulbox_storage_cache_bytes_total", { source: "origin" })).toBe(
    bytes.length,
  );
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", {
      level: "origin",
      result: "hit",
    }),
  ).toBe(1);
  expect(await onDisk(e)).toEqual({ entries: [sha(bytes)], tmp: [] });
});

test("a missing object is NotFound, passed through, and leaves nothing", async () => {
  const e = await setup();
  const err = await e.cache.open(e.store, "nope").catch((x: unknown) => x);
  expect(isStorageError(err, "NotFound")).toBe(true);
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", {
      level: "origin",
      result: "miss",
    }),
  ).toBe(1);
  expect(await onDisk(e)).toEqual({ entries: [], tmp: [] });
});

test("the origin failing mid-fetch leaves no entry, fails every waiter with its cause, and the next open refetches", async () => {
  const e = await setup();
  const bytes = randomBytes(6 << 20);
  await e.store.put("t", bytes);
  // Cut the stored blob short: the store's stream hands on 3 MiB, then ends with an error.
  await truncate(await blobOf(e, "t"), 3 << 20);

  const results = await Promise.allSettled(
    Array.from({ length: 3 }, () => e.cache.open(e.store, "t")),
  );
  for (const r of results) {
    expect(r.status).toBe("rejected");
    const err = (r as PromiseRejectedResult).reason as StorageError;
    expect(isStorageError(err, "IntegrityMismatch")).toBe(true);
    expect(err.message).toContain("node cache: fetching t");
    expect(isStorageError(err.cause, "IntegrityMismatch")).toBe(true);
  }
  expect(
    await metric(e.registry, "soulbox_storage_cache_bytes_total", { source: "origin" }),
  ).toBeGreaterThan(0);
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", {
      level: "origin",
      result: "error",
    }),
  ).toBe(1);
  expect(await onDisk(e)).toEqual({ entries: [], tmp: [] });
  expect(e.cache.stats()).toEqual({ entries: 0, bytes: 0, pinnedBytes: 0 });

  // The object is put back whole: the next open fetches it again and serves it.
  await e.store.put("t", bytes);
  const again = await e.cache.open(e.store, "t");
  expect(again.hit).toBe(false);
  expectSame(await read(again.stream), bytes);
});

test("the origin's object deleted under the cache fails the open and leaves nothing", async () => {
  const e = await setup();
  await e.store.put("d", randomBytes(1000));
  await rm(await blobOf(e, "d"));
  const err = await e.cache.open(e.store, "d").catch((x: unknown) => x);
  expect(isStorageError(err, "IntegrityMismatch")).toBe(true);
  expect(await onDisk(e)).toEqual({ entries: [], tmp: [] });
});

test("an aborted open leaves its fill; the fill stops when no one waits, and leaves nothing", async () => {
  const e = await setup();
  const bytes = randomBytes(16 << 20);
  await e.store.put("slow", bytes);

  // One of two openers goes away: the other still gets the object.
  const leaving = new AbortController();
  const a = e.cache.open(e.store, "slow", { signal: leaving.signal });
  const b = e.cache.open(e.store, "slow");
  await until(async () => (await readdir(join(e.cacheDir, "tmp"))).length > 0, "the fill began");
  leaving.abort();
  const ea = await a.catch((x: unknown) => x);
  expect(isStorageError(ea, "Aborted")).toBe(true);
  expectSame(await read((await b).stream), bytes);

  // The only opener goes away: the fill is abandoned and leaves no entry and no temp file.
  await e.store.put("slow2", randomBytes(16 << 20));
  const alone = new AbortController();
  const c = e.cache.open(e.store, "slow2", { signal: alone.signal });
  await until(async () => (await readdir(join(e.cacheDir, "tmp"))).length > 0, "the fill began");
  alone.abort();
  expect(isStorageError(await c.catch((x: unknown) => x), "Aborted")).toBe(true);
  await until(async () => (await onDisk(e)).tmp.length === 0, "the temp file removed");
  expect((await onDisk(e)).entries).toEqual([sha(bytes)]);
  const again = await e.cache.open(e.store, "slow2");
  expect(again.hit).toBe(false);
  await read(again.stream);
});

test.each([
  {
    name: "bytes changed in place",
    corrupt: async (p: string) => {
      const b = await readFile(p);
      b[100] = (b[100] ?? 0) ^ 0xff;
      await writeFile(p, b);
    },
  },
  { name: "truncated", corrupt: (p: string) => truncate(p, 10) },
  { name: "deleted", corrupt: (p: string) => rm(p) },
])("a cache file that changed on disk is not served but refetched: $name", async ({ corrupt }) => {
  const e = await setup();
  const bytes = randomBytes(50_000);
  await e.store.put("c", bytes);
  await read((await e.cache.open(e.store, "c")).stream);
  await corrupt(entryPath(e, sha(bytes)));

  const again = await e.cache.open(e.store, "c");
  expect(again.hit).toBe(false);
  expectSame(await read(again.stream), bytes);
  expectSame(await readFile(entryPath(e, sha(bytes))), bytes);
  expect(await metric(e.registry, "soulbox_storage_cache_corrupt_total")).toBe(1);
  expect(await metric(e.registry, "soulbox_storage_cache_bytes_total", { source: "origin" })).toBe(
    2 * bytes.length,
  );
  const third = await e.cache.open(e.store, "c");
  expect(third.hit).toBe(true);
  await read(third.stream);
});

test("the size cap evicts the least recently opened entries; each fill leaves the cache within it", async () => {
  const e = await setup({ maxBytes: 3000 });
  const objs = Object.fromEntries(["a", "b", "c", "d", "e"].map((k) => [k, randomBytes(1000)]));
  for (const [k, b] of Object.entries(objs)) await e.store.put(k, b);
  const open = async (k: string) => {
    await read((await e.cache.open(e.store, k)).stream);
    expect(e.cache.stats().bytes).toBeLessThanOrEqual(3000);
    const { entries, tmp } = await onDisk(e);
    expect(entries.length * 1000).toBeLessThanOrEqual(3000);
    expect(tmp).toEqual([]);
  };
  for (const k of ["a", "b", "c", "a", "d"]) await open(k);
  // b was the least recently opened (a was opened again).
  const digests = (keys: string[]) => keys.map((k) => sha(objs[k]!)).sort();
  await until(
    async () => (await onDisk(e)).entries.join() === digests(["a", "c", "d"]).join(),
    "b's file deleted",
  );
  await open("e");
  await until(
    async () => (await onDisk(e)).entries.join() === digests(["a", "d", "e"]).join(),
    "c's file deleted",
  );
  expect(await metric(e.registry, "soulbox_storage_cache_evictions_total")).toBe(2);
  expect(await metric(e.registry, "soulbox_storage_cache_size_bytes")).toBe(3000);
  const a = await e.cache.open(e.store, "a");
  expect(a.hit).toBe(true);
  await read(a.stream);
});

test("eviction passes over an entry a reader holds; its file stays whole until the reader is done", async () => {
  const e = await setup({ maxBytes: 2 * 200_000 });
  const objs = Object.fromEntries(["a", "b", "c", "d"].map((k) => [k, randomBytes(200_000)]));
  for (const [k, b] of Object.entries(objs)) await e.store.put(k, b);
  const held = await e.cache.open(e.store, "a"); // pinned until its stream closes
  await read((await e.cache.open(e.store, "b")).stream);
  await read((await e.cache.open(e.store, "c")).stream); // room: b goes, not a
  await read((await e.cache.open(e.store, "d")).stream); // room: c goes, not a
  expect(await exists(entryPath(e, sha(objs.a!)))).toBe(true);
  expect(await exists(entryPath(e, sha(objs.b!)))).toBe(false);
  expect(e.cache.stats().pinnedBytes).toBe(200_000);
  expectSame(await read(held.stream), objs.a);
  await until(() => e.cache.stats().pinnedBytes === 0, "the pin released");
  // Unpinned now: a is the least recently opened and goes first.
  await e.store.put("e", randomBytes(200_000));
  await read((await e.cache.open(e.store, "e")).stream);
  await until(async () => !(await exists(entryPath(e, sha(objs.a!)))), "a evicted");
});

test("readers pinning the whole cap: a new object is still served, and the cache shrinks back as soon as one closes", async () => {
  const e = await setup({ maxBytes: 2000 });
  for (const k of ["a", "b", "c"]) await e.store.put(k, randomBytes(1000));
  const a = await e.cache.open(e.store, "a");
  const b = await e.cache.open(e.store, "b");
  const c = await e.cache.open(e.store, "c");
  expect(c.hit).toBe(false);
  expect(e.cache.stats()).toEqual({ entries: 3, bytes: 3000, pinnedBytes: 3000 });
  // a's reader closes: a is the least recently opened unpinned entry, and goes.
  a.stream.destroy();
  await finished(a.stream).catch(() => undefined);
  await until(() => e.cache.stats().bytes <= 2000, "evicted back under the cap");
  await until(async () => (await onDisk(e)).entries.length === 2, "a's file deleted");
  expect(await read(b.stream)).toHaveLength(1000);
  expect(await read(c.stream)).toHaveLength(1000);
  expect(e.cache.stats()).toEqual({ entries: 2, bytes: 2000, pinnedBytes: 0 });
});

test("an object larger than the whole cache streams through uncached, and is counted", async () => {
  const e = await setup({ maxBytes: 1000 });
  const bytes = randomBytes(5000);
  await e.store.put("huge", bytes);
  const whole = await e.cache.open(e.store, "huge");
  expect(whole.hit).toBe(false);
  expectSame(await read(whole.stream), bytes);
  const part = await e.cache.open(e.store, "huge", { range: { start: 10, end: 20 } });
  expectSame(await read(part.stream), bytes.subarray(10, 20));
  expect(await metric(e.registry, "soulbox_storage_cache_bypass_total")).toBe(2);
  expect(await metric(e.registry, "soulbox_storage_cache_bytes_total", { source: "origin" })).toBe(
    5010,
  );
  expect(await onDisk(e)).toEqual({ entries: [], tmp: [] });
});

test("a restart keeps the entries, their recency and the warm-up list, and removes leftovers", async () => {
  const e = await setup({ maxBytes: 3000 });
  const objs = Object.fromEntries(["a", "b", "c", "d"].map((k) => [k, randomBytes(1000)]));
  for (const [k, b] of Object.entries(objs)) await e.store.put(k, b);
  for (const k of ["a", "b", "c", "a", "a", "c"])
    await read((await e.cache.open(e.store, k)).stream);
  // What a crash leaves: a fill's temp file, and a file that is not an entry.
  await writeFile(join(e.cacheDir, "tmp", "half-a-fill"), "xx");
  await mkdir(join(e.cacheDir, "sha256", "zz"), { recursive: true });
  await writeFile(join(e.cacheDir, "sha256", "zz", "not-a-sha"), "xx");

  await restart(e);
  expect(e.cache.stats()).toEqual({ entries: 3, bytes: 3000, pinnedBytes: 0 });
  expect(await onDisk(e)).toEqual({
    entries: ["a", "b", "c"].map((k) => sha(objs[k]!)).sort(),
    tmp: [],
  });
  expect(e.cache.warmupList(3).map((u) => u.key)).toEqual(["a", "c", "b"]);
  expect(e.cache.warmupList(1)[0]).toMatchObject({
    storeUrl: e.store.displayUrl,
    key: "a",
    sha256: sha(objs.a!),
    size: 1000,
  });
  // Recency survived too: b was the least recently opened, so d's fill evicts b.
  await read((await e.cache.open(e.store, "d")).stream);
  await until(async () => !(await exists(entryPath(e, sha(objs.b!)))), "b evicted");
  const c = await e.cache.open(e.store, "c");
  expect(c.hit).toBe(true);
  expectSame(await read(c.stream), objs.c);
  expect(await metric(e.registry, "soulbox_storage_cache_bytes_total", { source: "origin" })).toBe(
    1000,
  );
});

test("without its state file, a restart re-verifies each entry on its first open and drops one that changed", async () => {
  const e = await setup();
  const good = randomBytes(40_000);
  const bad = randomBytes(40_000);
  await e.store.put("good", good);
  await e.store.put("bad", bad);
  for (const k of ["good", "bad"]) await read((await e.cache.open(e.store, k)).stream);
  await e.cache.close();
  await rm(join(e.cacheDir, "state.json"));
  const p = entryPath(e, sha(bad));
  const b = await readFile(p);
  b[0] = (b[0] ?? 0) ^ 1;
  await writeFile(p, b);

  await restart(e);
  expect(e.cache.stats().entries).toBe(2);
  const g = await e.cache.open(e.store, "good");
  expect(g.hit).toBe(true);
  expectSame(await read(g.stream), good);
  const x = await e.cache.open(e.store, "bad");
  expect(x.hit).toBe(false);
  expectSame(await read(x.stream), bad);
  expect(await metric(e.registry, "soulbox_storage_cache_corrupt_total")).toBe(1);
});

test("a file changed while the cache was down is caught by its stamp after the restart", async () => {
  const e = await setup();
  const bytes = randomBytes(40_000);
  await e.store.put("k", bytes);
  await read((await e.cache.open(e.store, "k")).stream);
  await e.cache.close();
  const p = entryPath(e, sha(bytes));
  const b = await readFile(p);
  b[7] = (b[7] ?? 0) ^ 1;
  await writeFile(p, b);
  await restart(e);
  const again = await e.cache.open(e.store, "k");
  expect(again.hit).toBe(false);
  expectSame(await read(again.stream), bytes);
});

test.each([
  { name: "zero", maxBytes: 0 },
  { name: "negative", maxBytes: -5 },
  { name: "NaN", maxBytes: Number.NaN },
  { name: "infinite", maxBytes: Number.POSITIVE_INFINITY },
  { name: "a string", maxBytes: "10G" as unknown as number },
  { name: "missing", maxBytes: undefined as unknown as number },
])("maxBytes $name is refused with a clear error", async ({ maxBytes }) => {
  const root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-"));
  try {
    const err = await createNodeCache({ dir: join(root, "c"), maxBytes }).catch((x: unknown) => x);
    expect(isStorageError(err, "InvalidConfig")).toBe(true);
    expect((err as Error).message).toMatch(/maxBytes must be a positive number of bytes/);
    // Nothing was created.
    expect(await readdir(root)).toEqual([]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a cache dir that cannot be written fails at create, naming the dir", async () => {
  const root = await mkdtemp(join(tmpdir(), "soulbox-node-cache-"));
  try {
    await writeFile(join(root, "file"), "");
    // Root may write anywhere it has permission bits for, so the unwritable directory is
    // sysfs for root (no one creates files there) and a 0555 directory for anyone else.
    let readOnly = "/sys";
    if (process.getuid?.() !== 0) {
      readOnly = join(root, "ro");
      await mkdir(readOnly, { mode: 0o555 });
    }
    for (const dir of [join(root, "file", "cache"), readOnly]) {
      const err = await createNodeCache({ dir, maxBytes: 1000 }).catch((x: unknown) => x);
      expect(isStorageError(err, "InvalidConfig")).toBe(true);
      expect((err as Error).message).toContain(`${dir} is not a writable directory`);
      expect((err as Error).cause).toHaveProperty("code");
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("prefetch fills in the background, skips what is cached, too large or missing, and reports each item", async () => {
  const e = await setup({ maxBytes: 100_000 });
  const objs = Object.fromEntries(["p1", "p2", "p3"].map((k) => [k, randomBytes(20_000)]));
  for (const [k, b] of Object.entries(objs)) await e.store.put(k, b);
  await e.store.put("too-big", randomBytes(200_000));
  await read((await e.cache.open(e.store, "p3")).stream);
  const before = e.cache.warmupList(10);

  const progress: string[] = [];
  const run = e.cache.prefetch(
    ["p1", "p2", "p3", "too-big", "missing"].map((key) => ({ store: e.store, key })),
    { concurrency: 2, onProgress: (p) => progress.push(`${p.item.key}:${p.result}:${p.total}`) },
  );
  const summary = await run.done;
  expect(summary).toEqual({
    fetched: 2,
    cached: 1,
    too_large: 1,
    no_room: 0,
    error: 1,
    cancelled: 0,
  });
  expect(progress.sort()).toEqual([
    "missing:error:5",
    "p1:fetched:5",
    "p2:fetched:5",
    "p3:cached:5",
    "too-big:too_large:5",
  ]);
  for (const k of ["p1", "p2"]) {
    const o = await e.cache.open(e.store, k);
    expect(o.hit).toBe(true);
    expectSame(await read(o.stream), objs[k]);
  }
  expect(
    await metric(e.registry, "soulbox_storage_cache_prefetch_total", { result: "fetched" }),
  ).toBe(2);
  expect(
    await metric(e.registry, "soulbox_storage_cache_prefetch_total", { result: "error" }),
  ).toBe(1);
  // A prefetch is not a use: the warm-up list did not change.
  expect(before.map((u) => u.key)).toEqual(["p3"]);
});

test("prefetch never evicts a pinned entry: what does not fit beside readers is skipped", async () => {
  const e = await setup({ maxBytes: 3000 });
  for (const k of ["a", "b", "p"]) await e.store.put(k, randomBytes(1500));
  const a = await e.cache.open(e.store, "a");
  const b = await e.cache.open(e.store, "b");
  const summary = await e.cache.prefetch([{ store: e.store, key: "p" }]).done;
  expect(summary.no_room).toBe(1);
  expect(e.cache.stats().entries).toBe(2);
  await read(a.stream);
  await read(b.stream);
  await until(() => e.cache.stats().pinnedBytes === 0, "pins released");
  expect((await e.cache.prefetch([{ store: e.store, key: "p" }]).done).fetched).toBe(1);
});

test("a stopped prefetch starts nothing more, abandons its fill, and close waits for it", async () => {
  const e = await setup();
  const keys = Array.from({ length: 6 }, (_, i) => `s${i}`);
  for (const k of keys) await e.store.put(k, randomBytes(4 << 20));
  let first = true;
  const run = e.cache.prefetch(
    keys.map((key) => ({ store: e.store, key })),
    {
      concurrency: 1,
      onProgress: () => {
        if (first) run.stop();
        first = false;
      },
    },
  );
  const summary = await run.done;
  expect(summary.fetched).toBe(1);
  expect(summary.cancelled).toBe(5);
  expect(
    await metric(e.registry, "soulbox_storage_cache_prefetch_total", { result: "cancelled" }),
  ).toBe(5);

  // close() stops a running prefetch and resolves only once it has ended, leaving no temp file.
  const late = e.cache.prefetch(keys.map((key) => ({ store: e.store, key })));
  await e.cache.close();
  const lateSummary = await late.done;
  expect(lateSummary.fetched + lateSummary.cached + lateSummary.cancelled).toBe(6);
  expect((await onDisk(e)).tmp).toEqual([]);
  expect(() => e.cache.prefetch([])).toThrow(StorageError);
  await expect(e.cache.open(e.store, "s0")).rejects.toThrow(/closed/);
});

test("prefetch concurrency must be a whole number of at least 1", async () => {
  const e = await setup();
  for (const concurrency of [0, -1, 1.5, Number.NaN])
    expect(() => e.cache.prefetch([], { concurrency })).toThrow(/concurrency/);
});

test("warmUp after a restart prefetches the node's most used objects that are not on disk", async () => {
  const e = await setup({ maxBytes: 2000 });
  const objs = Object.fromEntries(["a", "b", "c"].map((k) => [k, randomBytes(1000)]));
  for (const [k, b] of Object.entries(objs)) await e.store.put(k, b);
  // a: 3 uses, b: 2, c: 1; opening c evicts a (the least recently opened).
  for (const k of ["a", "a", "a", "b", "b", "c"])
    await read((await e.cache.open(e.store, k)).stream);
  expect(await exists(entryPath(e, sha(objs.a!)))).toBe(false);

  await restart(e);
  const stores = new Map([[e.store.displayUrl, e.store]]);
  const run = e.cache.warmUp(
    (use) => {
      const store = stores.get(use.storeUrl);
      return store ? { store, key: use.key } : undefined;
    },
    { n: 2 },
  );
  expect(await run.done).toMatchObject({ fetched: 1, cached: 1, error: 0 });
  const a = await e.cache.open(e.store, "a");
  expect(a.hit).toBe(true);
  expectSame(await read(a.stream), objs.a);
});

test("the manifest level reuses a head answer for its TTL, then asks the store again", async () => {
  const e = await setup({ manifestTtlMs: 30_000 });
  const v1 = randomBytes(1000);
  const v2 = randomBytes(1000);
  await e.store.put("k", v1);
  await read((await e.cache.open(e.store, "k")).stream);
  await e.store.put("k", v2);
  // Within the TTL: the object as it was (layers are written once; the TTL bounds this).
  expectSame(await read((await e.cache.open(e.store, "k")).stream), v1);
  e.clock.t += 60_000;
  expectSame(await read((await e.cache.open(e.store, "k")).stream), v2);
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", { level: "manifest" }),
  ).toBe(3);
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", {
      level: "manifest",
      result: "hit",
    }),
  ).toBe(1);
});

test("with manifestTtlMs 0 every open heads the object", async () => {
  const e = await setup({ manifestTtlMs: 0 });
  const v1 = randomBytes(1000);
  const v2 = randomBytes(1000);
  await e.store.put("k", v1);
  await read((await e.cache.open(e.store, "k")).stream);
  await e.store.put("k", v2);
  expectSame(await read((await e.cache.open(e.store, "k")).stream), v2);
  expect(
    await metric(e.registry, "soulbox_storage_cache_requests_total", { level: "manifest" }),
  ).toBe(0);
});

test("an empty object is cached and served like any other", async () => {
  const e = await setup();
  await e.store.put("empty", new Uint8Array());
  const first = await e.cache.open(e.store, "empty");
  expect(await read(first.stream)).toHaveLength(0);
  const second = await e.cache.open(e.store, "empty");
  expect(second.hit).toBe(true);
  expect(await read(second.stream)).toHaveLength(0);
  expect((await onDisk(e)).entries).toEqual([sha(new Uint8Array())]);
});

test("a restart with a smaller cap evicts the least recently opened entries down to it", async () => {
  const e = await setup({ maxBytes: 4000 });
  for (const k of ["a", "b", "c", "d"]) await e.store.put(k, randomBytes(1000));
  for (const k of ["a", "b", "c", "d", "a"]) await read((await e.cache.open(e.store, k)).stream);
  await e.cache.close();
  await restart(e, { maxBytes: 2000 });
  expect(e.cache.stats().bytes).toBe(2000);
  expect(await metric(e.registry, "soulbox_storage_cache_evictions_total")).toBe(2);
  for (const [k, hit] of [
    ["a", true],
    ["d", true],
  ] as const) {
    const o = await e.cache.open(e.store, k);
    expect(o.hit).toBe(hit);
    await read(o.stream);
  }
});

test("a prefetch list larger than the cache keeps its first items rather than evicting them", async () => {
  const e = await setup({ maxBytes: 3000 });
  const keys = ["p0", "p1", "p2", "p3", "p4"];
  for (const k of keys) await e.store.put(k, randomBytes(1000));
  const summary = await e.cache.prefetch(
    keys.map((key) => ({ store: e.store, key })),
    { concurrency: 1 },
  ).done;
  expect(summary).toMatchObject({ fetched: 3, no_room: 2 });
  for (const k of ["p0", "p1", "p2"]) {
    const o = await e.cache.open(e.store, k);
    expect(o.hit).toBe(true);
    await read(o.stream);
  }
});

test("bytes that do not match the sha256 the fill expects are refused, and the next open heads again", async () => {
  const e = await setup({ manifestTtlMs: 30_000 });
  const v1 = randomBytes(2000);
  const v2 = randomBytes(2000);
  await e.store.put("k", v1);
  await read((await e.cache.open(e.store, "k")).stream);
  // The key is rewritten within the manifest TTL and v1's entry is gone from disk: the refill
  // still expects v1's sha256, and the store now sends v2 (valid for the store, not for the fill).
  await e.store.put("k", v2);
  await rm(entryPath(e, sha(v1)));
  const err = (await e.cache.open(e.store, "k").catch((x: unknown) => x)) as Error;
  expect(isStorageError(err, "IntegrityMismatch")).toBe(true);
  expect(err.message).toContain(`expected 2000 bytes with sha256 ${sha(v1)}`);
  expect(await onDisk(e)).toEqual({ entries: [], tmp: [] });
  const again = await e.cache.open(e.store, "k");
  expectSame(await read(again.stream), v2);
});

test("a reader that goes away unread, or by its signal, releases its pin", async () => {
  const e = await setup();
  await e.store.put("k", randomBytes(100_000));
  await read((await e.cache.open(e.store, "k")).stream);
  const unread = await e.cache.open(e.store, "k");
  expect(e.cache.stats().pinnedBytes).toBe(100_000);
  unread.stream.destroy();
  await until(() => e.cache.stats().pinnedBytes === 0, "the pin released on destroy");
  const ac = new AbortController();
  const byAbort = await e.cache.open(e.store, "k", { signal: ac.signal });
  expect(e.cache.stats().pinnedBytes).toBe(100_000);
  ac.abort();
  await expect(read(byAbort.stream)).rejects.toThrow(/abort/i);
  await until(() => e.cache.stats().pinnedBytes === 0, "the pin released on abort");
});
