/**
 * How much each object was used on this node lately: a count per object that halves every
 * `halfLifeMs`, so a layer opened 50 times last week ranks below one opened 5 times this morning.
 * The node cache keeps one table, persists it beside its entries and ranks its warm-up list with it.
 */

/** One object's decayed use count, with what is needed to fetch it again. */
export interface UseRecord {
  /** The `displayUrl` of the store it came from (no secrets: safe to persist). */
  storeUrl: string;
  /** Its key in that store. */
  key: string;
  /** Its sha256 when last opened. */
  sha256: string;
  /** Its size when last opened. */
  size: number;
  /** The decayed count as of `at`. */
  score: number;
  /** When `score` was last brought up to date (ms since the epoch). */
  at: number;
}

/** `score`, taken at `at`, decayed to `now`. Time running backwards (a clock step) decays nothing. */
export function decayedScore(score: number, at: number, now: number, halfLifeMs: number): number {
  return score * 2 ** (-Math.max(0, now - at) / halfLifeMs);
}

/** The use table: bounded, ranked by decayed count. */
export interface UseTable {
  /** Counts one use of the object `storeUrl` + `key` at `now`. */
  record(storeUrl: string, key: string, sha256: string, size: number, now: number): void;
  /** The `n` most used records as of `now`, most used first, scores decayed to `now`. */
  top(n: number, now: number): UseRecord[];
  /** Every record (for persisting). */
  all(): UseRecord[];
}

/** Options of {@link createUseTable}. */
export interface UseTableOptions {
  /** Time for a count to halve. */
  halfLifeMs: number;
  /** At most this many records are kept; the least used go first. */
  maxRecords: number;
  /** Records to start from (a persisted table); malformed ones are dropped. */
  initial?: readonly unknown[];
}

/** True when `r` has the shape of a {@link UseRecord} (a persisted file may be damaged). */
export function isUseRecord(r: unknown): r is UseRecord {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    typeof o.storeUrl === "string" &&
    typeof o.key === "string" &&
    typeof o.sha256 === "string" &&
    Number.isFinite(o.size) &&
    Number.isFinite(o.score) &&
    Number.isFinite(o.at)
  );
}

const id = (storeUrl: string, key: string) => `${storeUrl}\n${key}`;

/** Creates a use table. */
export function createUseTable(opts: UseTableOptions): UseTable {
  const records = new Map<string, UseRecord>();
  for (const r of opts.initial ?? []) if (isUseRecord(r)) records.set(id(r.storeUrl, r.key), r);

  const ranked = (now: number) =>
    [...records.values()]
      .map((r) => ({ ...r, score: decayedScore(r.score, r.at, now, opts.halfLifeMs), at: now }))
      .sort((a, b) => b.score - a.score || a.key.localeCompare(b.key));

  return {
    record(storeUrl, key, sha256, size, now) {
      const k = id(storeUrl, key);
      const old = records.get(k);
      const score = old ? decayedScore(old.score, old.at, now, opts.halfLifeMs) + 1 : 1;
      records.set(k, { storeUrl, key, sha256, size, score, at: now });
      // Trim in batches (10% over the bound) so a full table does not sort on every use.
      if (records.size > opts.maxRecords * 1.1) {
        for (const r of ranked(now).slice(opts.maxRecords)) records.delete(id(r.storeUrl, r.key));
      }
    },
    top: (n, now) => ranked(now).slice(0, Math.max(0, n)),
    all: () => [...records.values()],
  };
}
