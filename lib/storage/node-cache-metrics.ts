/** The node cache's Prometheus metrics (names `soulbox_storage_cache_*`). */
import { Counter, Gauge, Registry } from "prom-client";

/**
 * The levels a read goes through, nearest first. `manifest`: the in-process map of recent `head`
 * answers; `node-disk`: the cache's files; `origin`: the object store itself.
 */
export type CacheLevel = "manifest" | "node-disk" | "origin";

/**
 * How a level answered. `hit`: it had what was asked (for `origin`: the object was fetched whole
 * and verified); `miss`: it did not (for `origin`: no object under the key, `NotFound`); `error`:
 * the level failed (only `origin`: head or fetch failed, or the bytes did not match).
 */
export type CacheResult = "hit" | "miss" | "error";

/**
 * How one prefetched item ended. `fetched`: now on disk; `cached`: it already was; `too_large`:
 * larger than the whole cache, never cached; `no_room`: readers hold so much of the cache that it
 * would not fit now; `error`: head or fetch failed; `cancelled`: the prefetch was stopped first.
 */
export type PrefetchResult = "fetched" | "cached" | "too_large" | "no_room" | "error" | "cancelled";

/** The metrics one node cache updates. */
export interface NodeCacheMetrics {
  registry: Registry;
  /** Lookups by level and result. */
  requests: Counter<"level" | "result">;
  /** Bytes read from the cache's files (`node-disk`) and fetched from the store (`origin`). */
  bytes: Counter<"source">;
  /** Entries removed to make room. */
  evictions: Counter;
  /** Bytes of the entries on disk now. */
  size: Gauge;
  /** Entries on disk now. */
  entries: Gauge;
  /** Opens of objects larger than the whole cache, streamed from the store without a copy. */
  bypass: Counter;
  /** Entries dropped because their file changed after it was filled (or failed verification). */
  corrupt: Counter;
  /** Prefetched items by result. */
  prefetch: Counter<"result">;
}

/**
 * Creates the metrics on `registry`, or on a new one. One node cache per registry: a second
 * would register the same names and prom-client refuses that.
 */
export function createNodeCacheMetrics(registry: Registry = new Registry()): NodeCacheMetrics {
  return {
    registry,
    requests: new Counter({
      name: "soulbox_storage_cache_requests_total",
      help: "Node cache lookups by level (manifest: in-process head answers, node-disk: cached files, origin: the object store) and result (hit, miss; origin: hit = fetched, miss = no such object, error).",
      labelNames: ["level", "result"],
      registers: [registry],
    }),
    bytes: new Counter({
      name: "soulbox_storage_cache_bytes_total",
      help: "Bytes served from the node cache's files (node-disk) and fetched from the object store (origin).",
      labelNames: ["source"],
      registers: [registry],
    }),
    evictions: new Counter({
      name: "soulbox_storage_cache_evictions_total",
      help: "Node cache entries evicted (least recently opened first) to stay within the size cap.",
      registers: [registry],
    }),
    size: new Gauge({
      name: "soulbox_storage_cache_size_bytes",
      help: "Bytes of the node cache's entries on disk.",
      registers: [registry],
    }),
    entries: new Gauge({
      name: "soulbox_storage_cache_entries",
      help: "Entries in the node cache.",
      registers: [registry],
    }),
    bypass: new Counter({
      name: "soulbox_storage_cache_bypass_total",
      help: "Opens of objects larger than the whole node cache, streamed from the object store uncached.",
      registers: [registry],
    }),
    corrupt: new Counter({
      name: "soulbox_storage_cache_corrupt_total",
      help: "Node cache entries dropped because their file changed after it was filled or failed its sha256 check.",
      registers: [registry],
    }),
    prefetch: new Counter({
      name: "soulbox_storage_cache_prefetch_total",
      help: "Prefetched objects by result (fetched, cached, too_large, no_room, error, cancelled).",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}
