import { watch, type FSWatcher, type Stats } from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
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
  isDir: boolean;
}

const known = (st: Stats): Known => ({
  ino: st.ino,
  mode: st.mode,
  uid: st.uid,
  gid: st.gid,
  mtimeMs: st.mtimeMs,
  size: st.size,
  isDir: st.isDirectory(),
});

/** A name known to exist whose stat was never seen (it was gone by then). */
const UNKNOWN: Known = { ino: -1, mode: 0, uid: 0, gid: 0, mtimeMs: 0, size: 0, isDir: false };

/** How many entries the initial scan of a recursive watch remembers at most. */
const MAX_SCANNED = 100_000;

/** The temporary file of an envd upload (file-transfer.ts): `.<name>.upload-<12 hex>`. */
const UPLOAD_TEMP = /^\.(.+)\.upload-[0-9a-f]{12}$/;

/**
 * The file an envd upload's temporary file will become (relative, like `rel`), or undefined
 * when `rel` is not one. Pure.
 */
export function uploadTarget(rel: string): string | undefined {
  const slash = rel.lastIndexOf("/");
  const m = UPLOAD_TEMP.exec(rel.slice(slash + 1));
  return m ? `${rel.slice(0, slash + 1)}${m[1]}` : undefined;
}

/**
 * Classifies a `change` notification from what changed since the last look:
 * content or size → write; only mode or owner → chmod. Pure.
 */
export function classifyChange(
  before: Omit<Known, "isDir"> | undefined,
  after: Omit<Known, "isDir">,
): FsEventType {
  if (!before) return "write";
  if (before.mtimeMs !== after.mtimeMs || before.size !== after.size) return "write";
  if (before.mode !== after.mode || before.uid !== after.uid || before.gid !== after.gid)
    return "chmod";
  return "write";
}

/**
 * Watches a directory (optionally recursively) with inotify, one kernel watch
 * per directory. Node reports only "rename" and "change"; the finer kinds are
 * recovered from a stat cache: a name that appears is a create, one that
 * vanishes is a rename when its inode reappears under another name in the
 * same batch of notifications and a remove otherwise. A new directory is
 * watched at once and then scanned, so files created in it before its watch
 * existed are still reported.
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
  const watchers = new Map<string, FSWatcher>();
  let pending: { type: "rename" | "change"; name: string }[] = [];
  // Files an envd upload is writing through a temporary file. What the user did is write the
  // file: its commit (the rename over it) is reported as create (when new) and write, named
  // after the file, and the temporary file is never reported.
  const uploading = new Set<string>();
  let scheduled = false;
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  const notify = (type: string, name: string) => {
    if (closed) return;
    pending.push({ type: type === "rename" ? "rename" : "change", name });
    if (!scheduled) {
      scheduled = true;
      // One flush at a time: a batch sees the cache as the batch before it left it.
      setImmediate(() => {
        flushing = flushing
          .then(flush)
          .catch((err: unknown) => onError(fromSystemError(err, `watching '${root}' failed`)));
      });
    }
  };

  const addWatch = (rel: string) => {
    if (watchers.has(rel) || closed) return;
    let w: FSWatcher;
    try {
      w = watch(join(root, rel), { persistent: false });
    } catch (err) {
      if (rel === "") throw fromSystemError(err, `cannot watch '${root}'`);
      return; // a subdirectory that vanished already
    }
    w.on("change", (type, filename) => {
      if (filename !== null)
        notify(type, rel ? join(rel, filename.toString()) : filename.toString());
    });
    w.on("error", (err) => {
      if (rel === "" && !closed) onError(fromSystemError(err, `watching '${root}' failed`));
      unwatch(rel);
    });
    watchers.set(rel, w);
  };

  const unwatch = (rel: string) => {
    for (const [key, w] of watchers) {
      if (rel !== "" && (key === rel || key.startsWith(`${rel}/`))) {
        w.close();
        watchers.delete(key);
      }
    }
  };

  /** Records (and, for new things, reports to `report`) everything below `rel`. */
  const scan = async (rel: string, report: ((e: FsEvent) => void) | undefined) => {
    const names = await readdir(join(root, rel)).catch(() => [] as string[]);
    for (const name of names) {
      if (closed || cache.size >= MAX_SCANNED) return;
      const child = rel ? join(rel, name) : name;
      const s = await lstat(join(root, child)).catch(() => undefined);
      if (!s || cache.get(child)?.ino === s.ino) continue;
      cache.set(child, known(s));
      report?.({ name: child, type: "create", path: join(root, child) });
      if (recursive && s.isDirectory()) {
        addWatch(child);
        await scan(child, report);
      }
    }
  };

  const flush = async () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    // Stats are taken after the fact: a name may already be gone again, so
    // presence is tracked per event (each "rename" notification flips it).
    const stats = await Promise.all(
      batch.map((r) => lstat(join(root, r.name)).catch(() => undefined)),
    );
    const createdInodes = new Set<number>();
    batch.forEach((r, i) => {
      const s = stats[i];
      if (r.type === "rename" && s && cache.get(r.name)?.ino !== s.ino) createdInodes.add(s.ino);
    });
    const present = new Map<string, boolean>();
    for (const [i, r] of batch.entries()) {
      if (closed) return;
      const s = stats[i];
      const emit = (type: FsEventType) => onEvent({ name: r.name, type, path: join(root, r.name) });
      const before = cache.get(r.name);
      const target = uploadTarget(r.name);
      if (target !== undefined) {
        if (r.type === "rename") {
          // Renamed onto its file (the kernel reports the two halves of a rename one after
          // the other), or still there: an upload. Gone otherwise: a failed one.
          const next = batch[i + 1];
          if (s || (next?.type === "rename" && next.name === target)) uploading.add(target);
          else uploading.delete(target);
        }
        continue;
      }
      if (r.type === "rename" && s && uploading.has(r.name)) {
        uploading.delete(r.name);
        const existed = present.get(r.name) ?? before !== undefined;
        present.set(r.name, true);
        if (!existed) emit("create");
        emit("write");
        continue;
      }
      if (r.type === "change") {
        emit(s ? classifyChange(before, known(s)) : "write");
        if (s) cache.set(r.name, known(s));
        continue;
      }
      const wasPresent = present.get(r.name) ?? before !== undefined;
      // Still there as the same thing: known before this batch with this inode, or seen
      // appearing earlier in it. For a directory that is an attribute change (a chown after
      // mkdir): inotify flags it IN_ISDIR, which Node reports as "rename", not "change".
      const same =
        s &&
        ((wasPresent && before?.ino === s.ino && present.get(r.name) === undefined) ||
          present.get(r.name) === true);
      if (same) {
        if (s.isDirectory()) emit("chmod");
        continue;
      }
      if (
        !wasPresent ||
        (s && before && before.ino !== s.ino && present.get(r.name) === undefined)
      ) {
        present.set(r.name, true);
        if (recursive && s?.isDirectory()) {
          // Watched and scanned before anyone hears of it: what a client then makes inside it
          // is reported by the new watch, never also by the scan (or twice).
          cache.set(r.name, known(s));
          addWatch(r.name);
          const found: FsEvent[] = [];
          await scan(r.name, (e) => found.push(e));
          emit("create");
          for (const e of found) onEvent(e);
        } else emit("create");
        continue;
      }
      present.set(r.name, false);
      const next = batch[i + 1];
      const movedAway =
        (before !== undefined && createdInodes.has(before.ino)) ||
        (next?.type === "rename" &&
          next.name !== r.name &&
          !(present.get(next.name) ?? cache.has(next.name)));
      if (before?.isDir) unwatch(r.name);
      emit(movedAway ? "rename" : "remove");
    }
    batch.forEach((r, i) => {
      const s = stats[i];
      if (s) cache.set(r.name, known(s));
      // Seen appearing but gone again before its stat: remember it as present
      // with an unknown inode, so its later disappearance is still reported.
      else if (present.get(r.name) === true) cache.set(r.name, UNKNOWN);
      // Only a rename says a name went away; a change whose stat came too late (the file was
      // moved meanwhile) leaves it known, or the move's own notification would read as a create.
      else if (r.type === "rename") cache.delete(r.name);
    });
    if (
      batch.length > 0 &&
      !(await stat(root).then(
        (x) => x.isDirectory(),
        () => false,
      )) &&
      !closed
    ) {
      onError(new EnvdError("not_found", `the watched directory '${root}' was removed`));
    }
  };

  addWatch("");
  await scan("", undefined);
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
