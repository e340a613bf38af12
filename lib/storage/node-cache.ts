/**
 * The node-local cache in front of an {@link ObjectStore}: snapshot and template layers are
 * fetched from object storage once per node and then read from the node's disk.
 *
 * Levels, nearest first (README "Node-local cache"):
 * 1. manifest: an in-process LRU of recent `head` answers (ObjectInfo by store URL + key) with a
 *    short TTL (default 30 s; 0 turns it off). Layers are written once under their key, so a
 *    repeat open within the TTL skips the store's round trip; a key rewritten within it is served
 *    as the object it was, at most `manifestTtlMs` longer.
 * 2. node-disk: files named by sha256 under `dir`, size-capped, least recently opened evicted
 *    first, never one a reader holds (when readers hold so much that a new object does not fit,
 *    it is served anyway and the cache shrinks back as they close). An object larger than the
 *    cap streams from the store uncached.
 * 3. origin: the object store, read whole, once per sha256 however many open it at once.
 *
 * Integrity: a fill hashes the bytes as they land in a temp file, fsyncs it and admits the file
 * only when size and sha256 match the object's. It then records the file's stamp (size, inode,
 * ctime: see `Stamp` in ./node-cache-index.ts); every open compares the open file's stamp with it and drops a file that was
 * written to since, refetching it. Bit rot under an unchanged stamp is not caught (the disk's
 * own checksums are for that). A file found at startup without a matching record is hashed
 * whole on its first open before any byte of it is served.
 *
 * Recency and use counts persist in `dir/state.json` (rewritten at most once a second and on
 * close), so a restart keeps the LRU order and the warm-up list; a lost state file only costs a
 * re-hash of each entry on its first open.
 */
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open as openFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, resolve as resolvePath } from "node:path";
import { Readable, Transform, addAbortSignal, pipeline as pipelineCb } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import {
  SHA256_HEX,
  cacheLayout,
  hashStream,
  prepareDir,
  readState,
  sameStamp,
  scanEntries,
  stampOf,
  writeState,
  type PersistedState,
} from "./node-cache-disk.js";
import { createCacheIndex, type CacheEntry } from "./node-cache-index.js";
import {
  createNodeCacheMetrics,
  type NodeCacheMetrics,
  type PrefetchResult,
} from "./node-cache-metrics.js";
import { resolveRange } from "./keys.js";
import { createUseTable, type UseRecord } from "./node-cache-usage.js";
import { startFileCopy, type FileCopy } from "./node-cache-copy.js";
import {
  StorageError,
  isStorageError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from "./object-store.js";

export type { PrefetchResult } from "./node-cache-metrics.js";
export type { UseRecord } from "./node-cache-usage.js";

/** Options of {@link createNodeCache}. */
export interface NodeCacheOptions {
  /** The cache's directory (created when missing); one cache per directory. */
  dir: string;
  /** The most bytes the entries may take on disk. */
  maxBytes: number;
  /** Where the `soulbox_storage_cache_*` metrics are registered; a private registry when absent. */
  registry?: Registry;
  log?: Logger;
  /** How long a `head` answer is reused (ms). Default 30 000; 0: every open heads the object. */
  manifestTtlMs?: number;
  /** Time for a use count to halve (ms). Default one day. */
  useHalfLifeMs?: number;
  /** The clock (ms since the epoch); tests move it. Default `Date.now`. */
  now?: () => number;
}

/** Options of {@link NodeCache.open}. */
export interface CacheOpenOptions {
  /** Only these bytes (served from the cached file; the whole object is fetched on a miss). */
  range?: ByteRange;
  /**
   * Aborts the open: a waiter for a fill leaves it (the fill stops when no one waits any more),
   * and a stream already returned ends with an `AbortError`.
   */
  signal?: AbortSignal;
}

/** An opened object. */
export interface CacheRead {
  /** The bytes (of `range` when given). Read it to the end or destroy it: it pins its entry. */
  stream: Readable;
  info: ObjectInfo;
  /** True when the entry was on disk already (false: fetched now, or too large to cache). */
  hit: boolean;
}

/** One object to prefetch. */
export interface PrefetchItem {
  store: ObjectStore;
  key: string;
}

/** Progress of a prefetch, once per item. */
export interface PrefetchProgress {
  item: PrefetchItem;
  result: PrefetchResult;
  /** Why, when `result` is `error`. */
  error?: unknown;
  /** Items finished so far, this one included. */
  done: number;
  total: number;
}

/** Options of {@link NodeCache.prefetch}. */
export interface PrefetchOptions {
  /** Objects fetched at once. Default 2, so a prefetch leaves the link to the readers. */
  concurrency?: number;
  onProgress?: (progress: PrefetchProgress) => void;
}

/** Items by result. */
export type PrefetchSummary = Record<PrefetchResult, number>;

/** A prefetch running in the background. */
export interface Prefetch {
  /** Starts no further item and abandons the fills only this prefetch waits for. */
  stop(): void;
  /** Resolves when every item has ended (stopped ones as `cancelled`); never rejects. */
  done: Promise<PrefetchSummary>;
}

/** Maps a recorded use back to a store and key (the caller holds the stores by URL). */
export type WarmupResolver = (use: UseRecord) => PrefetchItem | undefined;

/** What is in the cache now. */
export interface NodeCacheStats {
  entries: number;
  bytes: number;
  pinnedBytes: number;
}

/** The node cache. */
export interface NodeCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly metrics: NodeCacheMetrics;
  /**
   * Opens `key` of `store`: heads it (manifest level), serves it from its disk entry, or fetches
   * it whole into the cache first (one fetch per sha256 for all concurrent opens) and serves it
   * from there. An object larger than `maxBytes` streams from the store uncached. Errors of the
   * store (`NotFound`, `Unavailable`, ...) keep their code; the store's error is the `cause`.
   * Counts a use of the object for the warm-up list.
   */
  open(store: ObjectStore, key: string, options?: CacheOpenOptions): Promise<CacheRead>;
  /**
   * Puts `body` under `key` in `store`, as `store.put` does, and keeps a copy on this node's
   * disk, so the next open of the object here reads no byte from the store (a snapshot taken on
   * a node is restored there from its disk). The copy is synced and admitted in the background
   * after the put returns; an open of the same object waits for that. A copy that cannot be
   * written or does not fit only costs the next open its fetch: the put's outcome is the store's.
   */
  putThrough(
    store: ObjectStore,
    key: string,
    body: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<ObjectInfo>;
  /** The `n` objects most used on this node recently (decayed counts), most used first. */
  warmupList(n: number): UseRecord[];
  /**
   * Fetches `items` into the cache in the background, `concurrency` at a time, skipping what is
   * cached. It heads every item before filling any, so its fills never evict one of its own
   * items; it never evicts a pinned entry, and skips (`no_room`) what would fit only by evicting
   * pinned entries or items it already holds. Not a use: the warm-up list does not change.
   */
  prefetch(items: readonly PrefetchItem[], options?: PrefetchOptions): Prefetch;
  /** Prefetches the node's own warm-up list (the `n` most used, default 32) after a restart. */
  warmUp(resolve: WarmupResolver, options?: PrefetchOptions & { n?: number }): Prefetch;
  stats(): NodeCacheStats;
  /** Stops every prefetch and waits for them and for fills in progress; saves the state. */
  close(): Promise<void>;
}

const NO_LOG: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  with: () => NO_LOG,
};

const SAVE_DELAY_MS = 1000;
const MANIFEST_MAX = 1024;
const USE_RECORDS_MAX = 1024;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A fill in progress: one fetch of one sha256, and everyone waiting for it. */
interface Fill {
  waiters: Set<Waiter>;
  /** Aborted when the last waiter leaves. */
  controller: AbortController;
  done: Promise<void>;
}

interface Waiter {
  /** An opener (it will read the entry, so the fill pins it on its behalf); not a prefetch. */
  pin: boolean;
  resolve(entry: CacheEntry): void;
  reject(err: unknown): void;
}

/**
 * Opens (creating it when missing) the cache in `opts.dir`: checks that it can write there,
 * removes temp files a crash left, and rebuilds the index from the files and `state.json`.
 * Bad options and an unwritable directory fail with `InvalidConfig`.
 */
export async function createNodeCache(opts: NodeCacheOptions): Promise<NodeCache> {
  const { maxBytes } = opts;
  if (typeof maxBytes !== "number" || !Number.isFinite(maxBytes) || maxBytes <= 0)
    throw new StorageError(
      "InvalidConfig",
      `node cache: maxBytes must be a positive number of bytes, got ${String(maxBytes)}`,
    );
  if (typeof opts.dir !== "string" || opts.dir === "")
    throw new StorageError("InvalidConfig", "node cache: dir is required");
  const manifestTtlMs = opts.manifestTtlMs ?? 30_000;
  const halfLifeMs = opts.useHalfLifeMs ?? 24 * 3600_000;
  if (!(manifestTtlMs >= 0) || !(halfLifeMs > 0))
    throw new StorageError(
      "InvalidConfig",
      "node cache: manifestTtlMs must be ≥ 0 and useHalfLifeMs > 0",
    );
  const log = opts.log ?? NO_LOG;
  const clock = opts.now ?? Date.now;
  const layout = cacheLayout(resolvePath(opts.dir));

  try {
    await prepareDir(layout);
  } catch (err) {
    throw new StorageError(
      "InvalidConfig",
      `node cache: ${layout.dir} is not a writable directory: ${message(err)}`,
      { cause: err },
    );
  }
  const state = await readState(layout);
  const scan = await scanEntries(layout, state);
  const index = createCacheIndex(maxBytes);
  for (const entry of scan.entries) index.add(entry);
  const uses = createUseTable({ halfLifeMs, maxRecords: USE_RECORDS_MAX, initial: state.uses });
  const metrics = createNodeCacheMetrics(opts.registry);

  const manifest = new Map<string, { info: ObjectInfo; expires: number }>();
  const fills = new Map<string, Fill>();
  /** Every fill not yet ended (a failed one leaves `fills` before its temp file is gone). */
  const running = new Set<Promise<void>>();
  /** Deletions of entry files in progress, by sha256: a fill of the same sha256 waits for it. */
  const removals = new Map<string, Promise<void>>();
  const prefetches = new Set<Prefetch>();
  /** Copies of put objects being synced and admitted, by sha256: an open waits for them. */
  const admissions = new Map<string, Promise<void>>();
  let closed: Promise<void> | undefined;
  let saveTimer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();

  const gauges = () => {
    metrics.size.set(index.bytes);
    metrics.entries.set(index.count);
  };

  const snapshot = (): PersistedState => ({
    version: 1,
    entries: index
      .entries()
      .flatMap((e) =>
        e.stamp ? [{ sha256: e.sha256, stamp: e.stamp, lastUsed: e.lastUsed }] : [],
      ),
    uses: uses.all(),
  });
  const save = () => {
    saving = saving
      .then(() => writeState(layout, snapshot()))
      .catch((err: unknown) => log.warn("node cache: state not saved", { err }));
    return saving;
  };
  const scheduleSave = () => {
    if (saveTimer || closed) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      void save();
    }, SAVE_DELAY_MS);
    saveTimer.unref();
  };

  /** Deletes the file of `sha256` (already out of the index); a later fill waits for it. */
  const removeFile = (sha256: string) => {
    const path = layout.entry(sha256);
    const before = removals.get(sha256) ?? Promise.resolve();
    const removal: Promise<void> = before
      .then(() => rm(path, { force: true }))
      .catch((err: unknown) => log.warn("node cache: could not delete entry", { sha256, err }))
      .finally(() => {
        if (removals.get(sha256) === removal) removals.delete(sha256);
      });
    removals.set(sha256, removal);
  };

  /** Evicts until `need` more bytes fit; false when pinned entries leave too little room. */
  const evict = (need: number): boolean => {
    const { victims, fits } = index.evictFor(need);
    for (const victim of victims) {
      metrics.evictions.inc();
      removeFile(victim.sha256);
      log.debug("node cache: evicted", { sha256: victim.sha256, size: victim.size });
    }
    if (victims.length > 0) scheduleSave();
    gauges();
    return fits;
  };

  /** Drops an entry whose file no longer matches (or cannot be read): it is refetched. */
  const drop = (entry: CacheEntry, why: string) => {
    if (!index.remove(entry)) return;
    metrics.corrupt.inc();
    log.warn("node cache: entry dropped", { sha256: entry.sha256, why });
    removeFile(entry.sha256);
    gauges();
    scheduleSave();
  };

  const unpin = (entry: CacheEntry) => {
    entry.pins -= 1;
    // A fill that found everything pinned went over the cap; the last reader brings it back.
    if (entry.pins === 0 && index.bytes + index.reserved > maxBytes) evict(0);
  };

  const cacheable = (info: ObjectInfo) =>
    SHA256_HEX.test(info.sha256) && Number.isSafeInteger(info.size) && info.size <= maxBytes;

  /** Remembers `info` at the manifest level (a head answer, or a put this node made). */
  const rememberHead = (store: ObjectStore, info: ObjectInfo) => {
    const id = `${store.displayUrl}\n${info.key}`;
    manifest.delete(id);
    manifest.set(id, { info, expires: clock() + manifestTtlMs });
    if (manifest.size > MANIFEST_MAX) manifest.delete(manifest.keys().next().value as string);
  };

  /** The object's info from the manifest level, or from the store's `head`. */
  const headOf = async (store: ObjectStore, key: string): Promise<ObjectInfo> => {
    const id = `${store.displayUrl}\n${key}`;
    if (manifestTtlMs > 0) {
      const known = manifest.get(id);
      manifest.delete(id);
      if (known && known.expires > clock()) {
        manifest.set(id, known);
        metrics.requests.inc({ level: "manifest", result: "hit" });
        return known.info;
      }
      metrics.requests.inc({ level: "manifest", result: "miss" });
    }
    let info: ObjectInfo;
    try {
      info = await store.head(key);
    } catch (err) {
      const result = isStorageError(err, "NotFound") ? "miss" : "error";
      metrics.requests.inc({ level: "origin", result });
      throw err;
    }
    if (manifestTtlMs > 0) rememberHead(store, info);
    return info;
  };

  /**
   * Fetches `info`'s object into a temp file, verifies it, renames it into place and hands the
   * entry to the fill's waiters (pinned for openers before any other fill can evict it).
   */
  const runFill = async (fill: Fill, store: ObjectStore, key: string, info: ObjectInfo) => {
    const { sha256, size } = info;
    const tmp = `${layout.tmp}/${sha256}.${randomUUID()}`;
    const signal = fill.controller.signal;
    // Room first, so temp files count against the cap too; past it only while readers pin.
    if (!evict(size))
      log.warn("node cache: readers pin too much to make room; over the cap until they close", {
        sha256,
        size,
        maxBytes,
      });
    index.reserve(size);
    let reserved = true;
    /** The fill's own verdict on the bytes (not the store's error): passed on as it is. */
    let verdict: StorageError | undefined;
    try {
      const body = await store.get(key, { signal });
      const hash = createHash("sha256");
      let got = 0;
      await pipeline(
        body,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            got += chunk.length;
            metrics.bytes.inc({ source: "origin" }, chunk.length);
            yield chunk;
          }
        },
        // flush: fsync before close, so a crash after the rename cannot leave a short file.
        createWriteStream(tmp, { flags: "wx", flush: true }),
        { signal },
      );
      const digest = hash.digest("hex");
      if (got !== size || digest !== sha256) {
        verdict = new StorageError(
          "IntegrityMismatch",
          `node cache: ${key} from ${store.displayUrl} gave ${got} bytes with sha256 ${digest}, expected ${size} bytes with sha256 ${sha256}`,
        );
        throw verdict;
      }
      const path = layout.entry(sha256);
      await mkdir(dirname(path), { recursive: true });
      await removals.get(sha256);
      await rename(tmp, path);
      // After the rename: a rename moves ctime.
      const stamp = stampOf(await stat(path, { bigint: true }));
      // No await from here on: the entry is admitted and pinned for its openers at once.
      index.release(size);
      reserved = false;
      const entry: CacheEntry = { sha256, size, stamp, lastUsed: clock(), pins: 0 };
      index.add(entry);
      fills.delete(sha256);
      for (const waiter of fill.waiters) {
        if (waiter.pin) entry.pins += 1;
        waiter.resolve(entry);
      }
      fill.waiters.clear();
      metrics.requests.inc({ level: "origin", result: "hit" });
      log.debug("node cache: filled", { sha256, size, key, store: store.displayUrl });
      evict(0);
      scheduleSave();
    } catch (err) {
      // Out of the map first: an open arriving now starts a fill of its own rather than
      // inheriting this one's failure (an abort it did not ask for, say).
      fills.delete(sha256);
      if (reserved) index.release(size);
      await rm(tmp, { force: true }).catch(() => undefined);
      // The object may have changed under its key: head it again next time.
      manifest.delete(`${store.displayUrl}\n${key}`);
      // The store's errors keep their code and become the cause of one naming the fill.
      const error =
        err === verdict && verdict
          ? verdict
          : new StorageError(
              isStorageError(err) ? err.code : signal.aborted ? "Aborted" : "Unavailable",
              `node cache: fetching ${key} from ${store.displayUrl} failed: ${message(err)}`,
              { cause: err },
            );
      if (!signal.aborted) {
        metrics.requests.inc({ level: "origin", result: "error" });
        log.warn("node cache: fill failed", { sha256, key, store: store.displayUrl, err: error });
      }
      for (const waiter of fill.waiters) waiter.reject(error);
      fill.waiters.clear();
      gauges();
    }
  };

  /** Waits for the fill of `info.sha256`, starting one when none runs. */
  const joinFill = (
    store: ObjectStore,
    key: string,
    info: ObjectInfo,
    pin: boolean,
    signal?: AbortSignal,
  ): Promise<CacheEntry> => {
    let fill = fills.get(info.sha256);
    if (!fill) {
      const created: Fill = {
        waiters: new Set(),
        controller: new AbortController(),
        done: Promise.resolve(),
      };
      fills.set(info.sha256, created);
      created.done = runFill(created, store, key, info);
      // close() waits for every fill to end, its clean-up included.
      running.add(created.done);
      void created.done.finally(() => running.delete(created.done));
      fill = created;
    }
    const joined = fill;
    return new Promise<CacheEntry>((resolve, reject) => {
      const onAbort = () => {
        if (!joined.waiters.delete(waiter)) return;
        reject(
          new StorageError("Aborted", `node cache: open of ${key} aborted`, {
            cause: signal?.reason,
          }),
        );
        // The last one out stops the fetch: nobody would read what it fills.
        if (joined.waiters.size === 0) joined.controller.abort(signal?.reason);
      };
      const waiter: Waiter = {
        pin,
        resolve: (entry) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(entry);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      joined.waiters.add(waiter);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  };

  /**
   * Serves `entry` (pinned by the caller) from its file; undefined when the file is gone or no
   * longer the one that was filled (the entry is dropped). The pin goes when the stream closes.
   */
  const serve = async (
    entry: CacheEntry,
    info: ObjectInfo,
    [start, end]: [number, number],
    signal: AbortSignal | undefined,
  ): Promise<Readable | undefined> => {
    let fh: FileHandle | undefined;
    try {
      fh = await openFile(layout.entry(entry.sha256), "r");
      const now = stampOf(await fh.stat({ bigint: true }));
      if (now.size !== info.size) throw new Error(`size ${now.size}, expected ${info.size}`);
      if (!entry.stamp) {
        // Found at startup without a record: hash it whole once before trusting it.
        const digest = await hashStream(fh.createReadStream({ start: 0, autoClose: false }));
        if (digest !== entry.sha256) throw new Error(`sha256 ${digest}`);
        entry.stamp = now;
        scheduleSave();
      } else if (!sameStamp(entry.stamp, now)) {
        throw new Error("changed since it was filled");
      }
    } catch (err) {
      await fh?.close().catch(() => undefined);
      drop(entry, message(err));
      unpin(entry);
      return undefined;
    }
    if (start >= end) {
      await fh.close();
      unpin(entry);
      return Readable.from([]);
    }
    // 1 MiB reads: cached objects are large (layers, archives) and read whole.
    const stream = fh.createReadStream({ start, end: end - 1, highWaterMark: 1 << 20 });
    stream.once("close", () => {
      metrics.bytes.inc({ source: "node-disk" }, stream.bytesRead);
      unpin(entry);
    });
    return signal ? addAbortSignal(signal, stream) : stream;
  };

  /** Streams an object too large to cache straight from the store, counting its bytes. */
  const passThrough = async (
    store: ObjectStore,
    key: string,
    range: ByteRange | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Readable> => {
    const body = await store.get(key, { range, signal });
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        metrics.bytes.inc({ source: "origin" }, chunk.length);
        callback(null, chunk);
      },
    });
    return pipelineCb(body, counted, () => undefined);
  };

  const open = async (
    store: ObjectStore,
    key: string,
    options: CacheOpenOptions = {},
  ): Promise<CacheRead> => {
    if (closed) throw new StorageError("Unavailable", "node cache: closed");
    // A malformed range fails before any I/O; one past the object's end once its size is known.
    if (options.range) resolveRange(options.range, Number.MAX_SAFE_INTEGER, key);
    const info = await headOf(store, key);
    uses.record(store.displayUrl, key, info.sha256, info.size, clock());
    scheduleSave();
    if (!cacheable(info)) {
      metrics.bypass.inc();
      log.debug("node cache: larger than the cache, not cached", { key, size: info.size });
      return {
        stream: await passThrough(store, key, options.range, options.signal),
        info,
        hit: false,
      };
    }
    const { start, end } = options.range
      ? resolveRange(options.range, info.size, key)
      : { start: 0, end: info.size };
    const bounds: [number, number] = [start, end];
    await admissions.get(info.sha256);
    const cached = index.get(info.sha256);
    if (cached) {
      cached.pins += 1;
      index.touch(cached, clock());
      const stream = await serve(cached, info, bounds, options.signal);
      if (stream) {
        metrics.requests.inc({ level: "node-disk", result: "hit" });
        return { stream, info, hit: true };
      }
    }
    metrics.requests.inc({ level: "node-disk", result: "miss" });
    const filled = await joinFill(store, key, info, true, options.signal);
    const stream = await serve(filled, info, bounds, options.signal);
    if (!stream)
      throw new StorageError(
        "IntegrityMismatch",
        `node cache: the file of ${key} changed as soon as it was filled`,
      );
    return { stream, info, hit: false };
  };

  /**
   * Prefetches in two passes: first it heads every item and marks the cached ones recently used,
   * then it fills the rest. So a fill for one item never evicts another item of the same list
   * that was already on disk, and it skips (`no_room`) an item that would fit only by evicting
   * what readers pin or what this prefetch already holds.
   */
  const prefetch = (items: readonly PrefetchItem[], options: PrefetchOptions = {}): Prefetch => {
    const concurrency = options.concurrency ?? 2;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new StorageError(
        "InvalidArgument",
        `node cache: prefetch concurrency must be a whole number ≥ 1, got ${String(concurrency)}`,
      );
    if (closed) throw new StorageError("Unavailable", "node cache: closed");
    const controller = new AbortController();
    const { signal } = controller;
    const summary: PrefetchSummary = {
      fetched: 0,
      cached: 0,
      too_large: 0,
      no_room: 0,
      error: 0,
      cancelled: 0,
    };
    let finished = 0;
    const report = (item: PrefetchItem, result: PrefetchResult, error?: unknown) => {
      summary[result] += 1;
      finished += 1;
      metrics.prefetch.inc({ result });
      if (result === "error")
        log.warn("node cache: prefetch failed", { key: item.key, err: error });
      try {
        options.onProgress?.({ item, result, error, done: finished, total: items.length });
      } catch (err) {
        log.warn("node cache: prefetch progress callback threw", { err });
      }
    };
    /** Runs `step` over `list`, `concurrency` at a time; a thrown error is the item's result. */
    const each = async <T extends { item: PrefetchItem }>(
      list: readonly T[],
      step: (t: T) => Promise<PrefetchResult | undefined>,
    ) => {
      let next = 0;
      const worker = async () => {
        for (let t = list[next++]; t; t = list[next++]) {
          if (signal.aborted) {
            report(t.item, "cancelled");
            continue;
          }
          try {
            const result = await step(t);
            if (result) report(t.item, result);
          } catch (err) {
            report(t.item, signal.aborted ? "cancelled" : "error", err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    };
    /** What this prefetch found on disk or fetched. */
    const kept = new Set<string>();
    const run = async () => {
      const toFetch: { item: PrefetchItem; info: ObjectInfo }[] = [];
      await each(
        items.map((item) => ({ item })),
        async ({ item }) => {
          const info = await headOf(item.store, item.key);
          if (!cacheable(info)) return "too_large";
          const cached = index.get(info.sha256);
          if (cached || kept.has(info.sha256)) {
            // Someone will need it soon: keep it from being the next eviction.
            if (cached) index.touch(cached, clock());
            kept.add(info.sha256);
            return "cached";
          }
          toFetch.push({ item, info });
          return undefined; // reported by the second pass
        },
      );
      await each(toFetch, async ({ item, info }) => {
        if (index.get(info.sha256)) return "cached"; // an opener filled it meanwhile
        let held = index.reserved;
        for (const e of index.entries()) if (e.pins > 0 || kept.has(e.sha256)) held += e.size;
        if (!fills.has(info.sha256) && maxBytes - held < info.size) return "no_room";
        await joinFill(item.store, item.key, info, false, signal);
        kept.add(info.sha256);
        return "fetched";
      });
      return summary;
    };
    const handle: Prefetch = {
      stop: () => controller.abort(new StorageError("Aborted", "node cache: prefetch stopped")),
      done: run(),
    };
    prefetches.add(handle);
    void handle.done.finally(() => prefetches.delete(handle));
    return handle;
  };

  /** Admits a whole, synced copy of `info` (false when it is not wanted or does not fit). */
  const admitCopy = async (info: ObjectInfo, copy: FileCopy): Promise<boolean> => {
    if (!(await copy.finish(info.size))) return false;
    if (!cacheable(info) || index.get(info.sha256) || fills.has(info.sha256) || !evict(info.size)) {
      await copy.discard();
      return false;
    }
    const path = layout.entry(info.sha256);
    await mkdir(dirname(path), { recursive: true });
    await removals.get(info.sha256);
    await rename(copy.path, path);
    const stamp = stampOf(await stat(path, { bigint: true }));
    if (index.get(info.sha256)) return true; // a fill of the same bytes landed meanwhile
    index.add({ sha256: info.sha256, size: info.size, stamp, lastUsed: clock(), pins: 0 });
    log.debug("node cache: kept a put", { sha256: info.sha256, size: info.size, key: info.key });
    evict(0);
    scheduleSave();
    return true;
  };

  const putThrough = async (
    store: ObjectStore,
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<ObjectInfo> => {
    if (closed) return store.put(key, body, options);
    const tmp = `${layout.tmp}/put.${randomUUID()}`;
    const handle = await openFile(tmp, "wx", 0o600).catch((err: unknown) => {
      log.warn("node cache: no local copy of a put", { key, err });
      return undefined;
    });
    if (!handle) return store.put(key, body, options);
    const copy = startFileCopy(handle, tmp, maxBytes);
    let info: ObjectInfo;
    try {
      info = await store.put(key, copy.tee(body), options);
    } catch (err) {
      await copy.discard();
      throw err;
    }
    if (manifestTtlMs > 0) rememberHead(store, info);
    const admission = admitCopy(info, copy)
      .then(
        (kept) => void (kept ? undefined : log.debug("node cache: put not kept", { key })),
        async (err: unknown) => {
          await copy.discard();
          log.warn("node cache: could not keep a put", { key, err });
        },
      )
      .finally(() => {
        if (admissions.get(info.sha256) === admission) admissions.delete(info.sha256);
        running.delete(admission);
        gauges();
      });
    admissions.set(info.sha256, admission);
    running.add(admission);
    return info;
  };

  const warmupList = (n: number) => uses.top(n, clock());

  gauges();
  if (index.bytes > maxBytes) evict(0);
  log.info("node cache ready", {
    dir: layout.dir,
    maxBytes,
    entries: index.count,
    bytes: index.bytes,
    strays: scan.strays.length,
  });

  return {
    dir: layout.dir,
    maxBytes,
    metrics,
    open,
    putThrough,
    warmupList,
    prefetch,
    warmUp(resolve, options = {}) {
      const items = warmupList(options.n ?? 32).flatMap((use) => {
        const item = resolve(use);
        return item ? [item] : [];
      });
      return prefetch(items, options);
    },
    stats: () => ({ entries: index.count, bytes: index.bytes, pinnedBytes: index.pinnedBytes() }),
    close() {
      closed ??= (async () => {
        for (const p of prefetches) p.stop();
        await Promise.all([...prefetches].map((p) => p.done));
        await Promise.allSettled([...running]);
        await Promise.allSettled([...removals.values()]);
        clearTimeout(saveTimer);
        saveTimer = undefined;
        await save();
      })();
      return closed;
    },
  };
}
