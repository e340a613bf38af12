import { isAbsolute, join, normalize } from "node:path";
import { EnvdError } from "../shared/errors.js";

/**
 * Resolves a client-supplied path the way E2B's envd does: `~` and relative
 * paths are taken from the user's home directory. Rejects empty paths, NUL
 * bytes and text that was not valid UTF-8 on the wire (decoded as U+FFFD).
 */
export function resolveUserPath(path: string, home: string): string {
  if (path === "") throw new EnvdError("invalid_argument", "path must not be empty");
  if (path.includes("\0"))
    throw new EnvdError("invalid_argument", "path must not contain NUL bytes");
  if (path.includes("\uFFFD")) throw new EnvdError("invalid_argument", "path is not valid UTF-8");
  if (path === "~") return normalize(home);
  if (path.startsWith("~/")) return normalize(join(home, path.slice(2)));
  if (isAbsolute(path)) return normalize(path);
  return normalize(join(home, path));
}
