/**
 * The node cache's index: which entries are on disk, in least-recently-opened order, how many
 * readers pin each, and which to evict when room is needed. Synchronous and free of I/O, so a
 * decision (evict these, admit that) is never split by an `await` that lets another fill in.
 */

/**
 * What an entry's file looked like when the cache filled (or last verified) it. `ctime` cannot be
 * set from user space and moves on every write, truncate, chmod or `utimes`, so a file whose
 * size, inode and ctime still match has not been written to since its bytes were hashed.
 */
export interface Stamp {
  size: number;
  /** The inode number, as a decimal string (a bigint in `stat`). */
  ino: string;
  /** The change time in nanoseconds, as a decimal string. */
  ctimeNs: string;
}

/** One cached object: a file named by its sha256. */
export interface CacheEntry {
  readonly sha256: string;
  readonly size: number;
  /** The file as filled; absent when found on disk at startup without a record (verify first). */
  stamp: Stamp | undefined;
  /** When it was last opened (ms since the epoch). */
  lastUsed: number;
  /** Readers holding it; a pinned entry is never evicted. */
  pins: number;
}

/** The index. `bytes + reserved` is what the cache holds or is about to hold on disk. */
export interface CacheIndex {
  readonly maxBytes: number;
  /** Bytes of the entries in the index. */
  readonly bytes: number;
  /** Bytes reserved for fills in progress (their temp files). */
  readonly reserved: number;
  readonly count: number;
  get(sha256: string): CacheEntry | undefined;
  /** Adds `entry` as the most recently used. */
  add(entry: CacheEntry): void;
  /** Marks `entry` the most recently used, at `now`. */
  touch(entry: CacheEntry, now: number): void;
  /** Removes `entry`; false when it was no longer in the index (someone removed it first). */
  remove(entry: CacheEntry): boolean;
  /**
   * Removes least recently used unpinned entries until `need` more bytes fit under `maxBytes`;
   * returns those removed (their files are the caller's to delete) and whether `need` fits now.
   */
  evictFor(need: number): { victims: CacheEntry[]; fits: boolean };
  reserve(n: number): void;
  release(n: number): void;
  /** Pinned bytes: what no eviction can free now. */
  pinnedBytes(): number;
  /** The entries, least recently used first. */
  entries(): CacheEntry[];
}

/** Creates an empty index capped at `maxBytes`. */
export function createCacheIndex(maxBytes: number): CacheIndex {
  // A Map iterates in insertion order: delete + set moves an entry to the recent end.
  const map = new Map<string, CacheEntry>();
  let bytes = 0;
  let reserved = 0;
  const fits = (need: number) => bytes + reserved + need <= maxBytes;
  return {
    maxBytes,
    get bytes() {
      return bytes;
    },
    get reserved() {
      return reserved;
    },
    get count() {
      return map.size;
    },
    get: (sha256) => map.get(sha256),
    add(entry) {
      const old = map.get(entry.sha256);
      if (old) bytes -= old.size;
      map.delete(entry.sha256);
      map.set(entry.sha256, entry);
      bytes += entry.size;
    },
    touch(entry, now) {
      entry.lastUsed = now;
      if (map.get(entry.sha256) !== entry) return;
      map.delete(entry.sha256);
      map.set(entry.sha256, entry);
    },
    remove(entry) {
      if (map.get(entry.sha256) !== entry) return false;
      map.delete(entry.sha256);
      bytes -= entry.size;
      return true;
    },
    evictFor(need) {
      const victims: CacheEntry[] = [];
      // Deleting from a Map while iterating it is defined: the loop goes on with the next entry.
      for (const entry of map.values()) {
        if (fits(need)) break;
        if (entry.pins > 0) continue;
        map.delete(entry.sha256);
        bytes -= entry.size;
        victims.push(entry);
      }
      return { victims, fits: fits(need) };
    },
    reserve(n) {
      reserved += n;
    },
    release(n) {
      reserved -= n;
    },
    pinnedBytes: () => [...map.values()].reduce((sum, e) => sum + (e.pins > 0 ? e.size : 0), 0),
    entries: () => [...map.values()],
  };
}
