import { userInfo } from "node:os";
import { createUserDatabase } from "./users.js";

/**
 * The default sandbox user: `user` (E2B's convention) when it exists and we
 * may switch to it, else the account envd runs as.
 */
export async function defaultUserName(): Promise<string> {
  const me = currentUserName();
  if (process.getuid?.() !== 0) return me;
  return createUserDatabase()
    .lookup("user")
    .then(() => "user")
    .catch(() => me);
}

/** The account we run as; without an /etc/passwd entry, "root" for uid 0 (else the uid). */
function currentUserName(): string {
  try {
    return userInfo().username;
  } catch {
    const uid = process.getuid?.() ?? 0;
    return uid === 0 ? "root" : String(uid);
  }
}
