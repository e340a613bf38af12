/**
 * The node cache's directory: where entries, temp files and the persisted state live, and how the
 * index is rebuilt from them at startup.
 *
 *   <dir>/sha256/ab/abcdef…   an entry: the object's bytes, named by their sha256
 *   <dir>/tmp/                fills in progress; whatever is left there at startup is removed
 *   <dir>/state.json          fill stamps, recency and use counts (written whole, then renamed)
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CacheEntry, Stamp } from "./node-cache-index.js";

/** A lower-case hex sha256: the only names an entry may have (a key never becomes a path). */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The directory's paths. */
export interface CacheLayout {
  dir: string;
  entries: string;
  tmp: string;
  state: string;
  /** The file of the entry `sha256`. */
  entry(sha256: string): string;
}

/** The layout under `dir`. */
export function cacheLayout(dir: string): CacheLayout {
  const entries = join(dir, "sha256");
  return {
    dir,
    entries,
    tmp: join(dir, "tmp"),
    state: join(dir, "state.json"),
    entry: (sha256) => join(entries, sha256.slice(0, 2), sha256),
  };
}

/** The stamp of a file as `stat` (bigint) sees it now. */
export function stampOf(st: BigIntStats): Stamp {
  return { size: Number(st.size), ino: st.ino.toString(), ctimeNs: st.ctimeNs.toString() };
}

/** True when both stamps describe the same, unchanged file. */
export function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.size === b.size && a.ino === b.ino && a.ctimeNs === b.ctimeNs;
}

/** The hex sha256 of a stream's bytes (a Hash piped to the end digests itself; this does not). */
export async function hashStream(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}

/** What `state.json` holds. */
export interface PersistedState {
  version: 1;
  entries: { sha256: string; stamp: Stamp; lastUsed: number }[];
  uses: unknown[];
}

/** Reads `state.json`; an absent or damaged file is an empty state (entries are re-verified). */
export async function readState(layout: CacheLayout): Promise<PersistedState> {
  const empty: PersistedState = { version: 1, entries: [], uses: [] };
  let text: string;
  try {
    text = await readFile(layout.state, "utf8");
  } catch {
    return empty;
  }
  try {
    const parsed = JSON.parse(text) as Partial<PersistedState>;
    if (parsed.version !== 1) return empty;
    const entries = Array.isArray(parsed.entries)
      ? parsed.entries.filter(
          (e) =>
            typeof e?.sha256 === "string" &&
            Number.isFinite(e.lastUsed) &&
            typeof e.stamp?.ino === "string" &&
            typeof e.stamp.ctimeNs === "string" &&
            Number.isFinite(e.stamp.size),
        )
      : [];
    return { version: 1, entries, uses: Array.isArray(parsed.uses) ? parsed.uses : [] };
  } catch {
    return empty;
  }
}

/** Writes `state.json` whole: a crash leaves the old file or the new one, never half of one. */
export async function writeState(layout: CacheLayout, state: PersistedState): Promise<void> {
  const tmp = join(layout.tmp, `state.${process.pid}.${Date.now()}.json`);
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, layout.state);
}

/**
 * Creates the directories and proves the cache can write there (a probe file), so a read-only or
 * missing volume fails at startup, not at the first fill. Empties `tmp/` (fills a crash cut short).
 */
export async function prepareDir(layout: CacheLayout): Promise<void> {
  await mkdir(layout.entries, { recursive: true });
  await rm(layout.tmp, { recursive: true, force: true });
  await mkdir(layout.tmp, { recursive: true });
  const probe = join(layout.tmp, "probe");
  await writeFile(probe, "");
  await rm(probe);
}

/** What the startup scan found. */
export interface ScanResult {
  /** The entries, least recently used first. */
  entries: CacheEntry[];
  /** Files under `sha256/` that are not entries (wrong name or place); they were removed. */
  strays: string[];
}

/**
 * Rebuilds the entries from the files under `sha256/`: size from `stat`; stamp and recency from
 * `state` when its record still matches the file (otherwise no stamp: verified on first open, and
 * recency from the file's mtime, the time it was filled).
 */
export async function scanEntries(layout: CacheLayout, state: PersistedState): Promise<ScanResult> {
  const recorded = new Map(state.entries.map((e) => [e.sha256, e]));
  const entries: CacheEntry[] = [];
  const strays: string[] = [];
  for (const shard of await readdir(layout.entries)) {
    const shardDir = join(layout.entries, shard);
    let names: string[];
    try {
      names = await readdir(shardDir);
    } catch {
      strays.push(shardDir);
      continue;
    }
    for (const name of names) {
      const path = join(shardDir, name);
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st?.isFile() || !SHA256_HEX.test(name) || name.slice(0, 2) !== shard) {
        strays.push(path);
        continue;
      }
      const now = stampOf(st);
      const rec = recorded.get(name);
      const stamp = rec && sameStamp(rec.stamp, now) ? now : undefined;
      entries.push({
        sha256: name,
        size: now.size,
        stamp,
        lastUsed: stamp && rec ? rec.lastUsed : Number(st.mtimeMs),
        pins: 0,
      });
    }
  }
  await Promise.all(strays.map((p) => rm(p, { recursive: true, force: true })));
  entries.sort((a, b) => a.lastUsed - b.lastUsed);
  return { entries, strays };
}
