import { chown, cp, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { EnvdError, errnoOf, fromSystemError } from "../shared/errors.js";
import { entryFromStats, statEntry, type Entry } from "./entry-info.js";
import type { UnixUser, UserDatabase } from "./users.js";

/** Who acts, for ownership of what gets created. `chown` is false when envd is not root. */
export interface Actor {
  user: UnixUser;
  chown: boolean;
}

/**
 * Creates a directory and its missing parents, owned by the actor. Returns the
 * directory's entry. Throws `already_exists` when it already was a directory.
 */
export async function makeDir(path: string, actor: Actor, users: UserDatabase): Promise<Entry> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory())
    throw new EnvdError("already_exists", `directory '${path}' already exists`);
  if (existing) throw new EnvdError("invalid_argument", `'${path}' exists and is not a directory`);
  await ensureDir(path, actor);
  return statEntry(path, users);
}

/** `mkdir -p`, chowning every directory it created to the actor. */
export async function ensureDir(path: string, actor: Actor): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(path, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw fromSystemError(err, `cannot create directory '${path}'`);
  }
  if (!first || !actor.chown) return;
  for (let dir = path; ; dir = dirname(dir)) {
    await chown(dir, actor.user.uid, actor.user.gid).catch(() => undefined);
    if (dir === first || dir === dirname(dir)) break;
  }
}

/** Moves (renames) an entry, creating the destination's parents; works across filesystems. */
export async function move(
  source: string,
  destination: string,
  actor: Actor,
  users: UserDatabase,
): Promise<Entry> {
  await lstat(source).catch((err: unknown) => {
    throw fromSystemError(err, `cannot move '${source}'`);
  });
  await ensureDir(dirname(destination), actor);
  try {
    await rename(source, destination);
  } catch (err) {
    if (errnoOf(err) !== "EXDEV")
      throw fromSystemError(err, `cannot move '${source}' to '${destination}'`);
    try {
      await cp(source, destination, {
        recursive: true,
        preserveTimestamps: true,
        verbatimSymlinks: true,
      });
      await rm(source, { recursive: true, force: true });
    } catch (copyErr) {
      throw fromSystemError(copyErr, `cannot move '${source}' to '${destination}'`);
    }
  }
  return statEntry(destination, users);
}

/**
 * Removes a file or a directory tree. Nothing there is not an error: E2B's envd removes with
 * "remove all" semantics, and programs written against it delete paths that may not exist.
 */
export async function remove(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    throw fromSystemError(err, `cannot remove '${path}'`);
  }
}

/**
 * Lists a directory to `depth` levels (1 = its children only), without
 * following symlinked directories. Entries come sorted by path.
 */
export async function listDir(path: string, depth: number, users: UserDatabase): Promise<Entry[]> {
  const st = await stat(path).catch((err: unknown) => {
    throw fromSystemError(err, `cannot list '${path}'`);
  });
  if (!st.isDirectory()) throw new EnvdError("invalid_argument", `'${path}' is not a directory`);
  const out: Entry[] = [];
  await walk(path, Math.max(1, depth), users, out);
  return out;
}

async function walk(dir: string, depth: number, users: UserDatabase, out: Entry[]): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw fromSystemError(err, `cannot list '${dir}'`);
  }
  for (const name of names) {
    const full = join(dir, name);
    const st = await lstat(full).catch(() => undefined);
    if (!st) continue; // vanished while listing
    out.push(await entryFromStats(full, st, users));
    if (depth > 1 && st.isDirectory()) await walk(full, depth - 1, users, out);
  }
}
