import { userInfo } from "node:os";
import { createUserDatabase } from "./users.js";

/**
 * The default sandbox user: `user` (E2B's convention) when it exists and we
 * may switch to it, else the account envd runs as.
 */
export async function defaultUserName(): Promise<string> {
  const me = userInfo().username;
  if (process.getuid?.() !== 0) return me;
  return createUserDatabase()
    .lookup("user")
    .then(() => "user")
    .catch(() => me);
}
