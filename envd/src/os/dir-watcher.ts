import { watch, type FSWatcher, type Stats } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { join } from "node:path";
import { EnvdError, fromSystemError } from "../shared/errors.js";

/** Filesystem event kinds, as E2B's envd reports them (fsnotify's vocabulary). */
export type FsEventType = "create" | "write" | "remove" | "rename" | "chmod";

/** One change below a watched directory; `name` is relative to it. */
export interface FsEvent {
  name: string;
  type: FsEventType;
  path: string;
}

/** A live watch; `close` stops it and is idempotent. */
export interface DirWatch {
  close(): void;
}

interface Known {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  size: number;
}

const known = (st: Stats): Known => ({
  ino: st.ino,
  mode: st.mode,
  uid: st.uid,
  gid: st.gid,
  mtimeMs: st.mtimeMs,
  size: st.size,
});

/**
 * Classifies a `change` notification from what changed since the last look:
 * content or size → write; only mode or owner → chmod. Pure.
 */
export function classifyChange(before: Known | undefined, after: Known): FsEventType {
  if (!before) return "write";
  if (before.mtimeMs !== after.mtimeMs || before.size !== after.size) return "write";
  if (before.mode !== after.mode || before.uid !== after.uid || before.gid !== after.gid) return "chmod";
  return "write";
}

/**
 * Watches a directory (optionally recursively) with the kernel's inotify, as
 * Node exposes it. Node reports only "rename" and "change"; the finer kinds
 * are recovered from a stat cache: a name that appears is a create, one that
 * vanishes is a rename when its inode reappears under another name in the
 * same batch of notifications and a remove otherwise.
 */
export async function watchDirectory(
  root: string,
  recursive: boolean,
  onEvent: (e: FsEvent) => void,
  onError: (err: EnvdError) => void,
): Promise<DirWatch> {
  const st = await stat(root).catch((err: unknown) => {
    throw fromSystemError(err, `cannot watch '${root}'`);
  });
  if (!st.isDirectory()) throw new EnvdError("invalid_argument", `'${root}' is not a directory`);
  const cache = new Map<string, Known>();
  let pending: { type: "rename" | "change"; name: string }[] = [];
  let scheduled = false;
  let closed = false;
  let watcher: FSWatcher;
  try {
    watcher = watch(root, { recursive, persistent: false });
  } catch (err) {
    throw fromSystemError(err, `cannot watch '${root}'`);
  }

  const flush = async () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    const stats = await Promise.all(batch.map((r) => lstat(join(root, r.name)).catch(() => undefined)));
    const createdInodes = new Set<number>();
    batch.forEach((r, i) => {
      const s = stats[i];
      if (r.type === "rename" && s && cache.get(r.name)?.ino !== s.ino) createdInodes.add(s.ino);
    });
    batch.forEach((r, i) => {
      if (closed) return;
      const s = stats[i];
      const emit = (type: FsEventType) => onEvent({ name: r.name, type, path: join(root, r.name) });
      const before = cache.get(r.name);
      if (r.type === "rename") {
        if (s) {
          if (before?.ino === s.ino) return;
          cache.set(r.name, known(s));
          return emit("create");
        }
        cache.delete(r.name);
        return emit(before && createdInodes.has(before.ino) ? "rename" : "remove");
      }
      if (!s) return;
      const after = known(s);
      cache.set(r.name, after);
      emit(classifyChange(before, after));
    });
  };

  watcher.on("change", (type, filename) => {
    if (closed || filename === null) return;
    pending.push({ type: type === "rename" ? "rename" : "change", name: filename.toString() });
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => void flush());
    }
  });
  watcher.on("error", (err) => {
    if (closed) return;
    onError(fromSystemError(err, `watching '${root}' failed`));
  });
  return {
    close() {
      if (closed) return;
      closed = true;
      watcher.close();
    },
  };
}
