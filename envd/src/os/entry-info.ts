import { lstat, readlink, realpath } from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename } from "node:path";
import { fromSystemError } from "../shared/errors.js";
import { readMetadata } from "./xattr-metadata.js";
import type { UserDatabase } from "./users.js";

/** What the filesystem knows about one entry; mirrors the wire `EntryInfo`. */
export interface Entry {
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  path: string;
  size: number;
  /** Permission bits (and setuid/setgid/sticky), as Go's `FileMode.Perm()` and friends. */
  mode: number;
  /** `drwxr-xr-x`-style text, as Go's `FileMode.String()` prints it. */
  permissions: string;
  owner: string;
  group: string;
  modifiedTime: Date;
  symlinkTarget?: string;
  metadata: Record<string, string>;
}

/** Go's FileMode.String() for the type and permission bits of a stat. Pure. */
export function permissionString(st: Pick<Stats, "mode">, type: Entry["type"]): string {
  const prefix =
    type === "directory" ? "d" : type === "symlink" ? "L" : type === "other" ? "?" : "-";
  const rwx = "rwxrwxrwx";
  let bits = "";
  for (let i = 0; i < 9; i++) bits += st.mode & (1 << (8 - i)) ? rwx[i] : "-";
  return prefix + bits;
}

function typeOf(st: Stats): Entry["type"] {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "directory";
  if (st.isFile()) return "file";
  return "other";
}

/** Stats one path (without following a final symlink) into an {@link Entry}. */
export async function statEntry(path: string, users: UserDatabase): Promise<Entry> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    throw fromSystemError(err, `cannot stat '${path}'`);
  }
  return entryFromStats(path, st, users);
}

/** Builds an {@link Entry} from a stat already taken. */
export async function entryFromStats(path: string, st: Stats, users: UserDatabase): Promise<Entry> {
  const type = typeOf(st);
  let symlinkTarget: string | undefined;
  if (type === "symlink") {
    // E2B reports the resolved target; a dangling link still reports its text.
    symlinkTarget = await realpath(path).catch(() => readlink(path).catch(() => ""));
  }
  return {
    name: basename(path),
    type,
    path,
    size: st.size,
    mode: st.mode & 0o7777,
    permissions: permissionString(st, type),
    owner: await users.userName(st.uid),
    group: await users.groupName(st.gid),
    modifiedTime: st.mtime,
    symlinkTarget,
    metadata: type === "file" ? await readMetadata(path) : {},
  };
}
