import { readFile, stat } from "node:fs/promises";
import { EnvdError } from "../shared/errors.js";

/** A Unix account as /etc/passwd describes it. */
export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Parses /etc/passwd content; malformed lines are skipped. Pure. */
export function parsePasswd(content: string): UnixUser[] {
  const users: UnixUser[] = [];
  for (const line of content.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    users.push({ name: f[0] ?? "", uid, gid, home: f[5] || "/", shell: f[6] || "/bin/sh" });
  }
  return users;
}

/** Parses /etc/group content into gid → name. Pure. */
export function parseGroup(content: string): Map<number, string> {
  const groups = new Map<number, string>();
  for (const line of content.split("\n")) {
    const f = line.split(":");
    const gid = Number(f[2]);
    if (f.length >= 3 && f[0] && Number.isInteger(gid)) groups.set(gid, f[0]);
  }
  return groups;
}

/**
 * Reads the account database from files rather than libc, so it works in any
 * image (the executor carries its own runtime; there may be no getent).
 */
export interface UserDatabase {
  /** Resolves a user by name; throws `invalid_argument`-free `unauthenticated` when unknown. */
  lookup(name: string): Promise<UnixUser>;
  userName(uid: number): Promise<string>;
  groupName(gid: number): Promise<string>;
}

/** Creates a user database over the given passwd/group files (defaults: /etc). */
export function createUserDatabase(
  passwdPath = "/etc/passwd",
  groupPath = "/etc/group",
): UserDatabase {
  const readUsers = async () => parsePasswd(await readFile(passwdPath, "utf8").catch(() => ""));
  const readGroups = async () => parseGroup(await readFile(groupPath, "utf8").catch(() => ""));
  return {
    async lookup(name) {
      const user = (await readUsers()).find((u) => u.name === name);
      if (!user && name === "root") return rootWithoutPasswd();
      if (!user)
        throw new EnvdError("unauthenticated", `user '${name}' does not exist in the sandbox`);
      return user;
    },
    async userName(uid) {
      return (await readUsers()).find((u) => u.uid === uid)?.name ?? String(uid);
    },
    async groupName(gid) {
      return (await readGroups()).get(gid) ?? String(gid);
    },
  };
}

/**
 * Root as the kernel knows it, for images with no /etc/passwd (scratch,
 * busybox-only): uid 0 always exists, and a missing /root must not make
 * every command fail on its working directory.
 */
async function rootWithoutPasswd(): Promise<UnixUser> {
  const home = await stat("/root").then(
    (s) => (s.isDirectory() ? "/root" : "/"),
    () => "/",
  );
  return { name: "root", uid: 0, gid: 0, home, shell: "/bin/sh" };
}
