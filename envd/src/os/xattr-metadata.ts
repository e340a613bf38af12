import { getAttribute, listAttributes, setAttribute } from "fs-xattr";
import { EnvdError, errnoOf } from "../shared/errors.js";

/** E2B keeps user metadata of uploaded files in this extended-attribute namespace. */
export const METADATA_PREFIX = "user.e2b.";

/** Reads `user.e2b.*` attributes; a filesystem without xattrs yields none. */
export async function readMetadata(path: string): Promise<Record<string, string>> {
  let names: string[];
  try {
    names = await listAttributes(path);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!name.startsWith(METADATA_PREFIX)) continue;
    try {
      out[name.slice(METADATA_PREFIX.length)] = (await getAttribute(path, name)).toString("utf8");
    } catch {
      // Removed between list and get: skip it.
    }
  }
  return out;
}

/** Writes metadata as `user.e2b.<key>` attributes. */
export async function writeMetadata(path: string, metadata: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(metadata)) {
    try {
      await setAttribute(path, METADATA_PREFIX + key, value);
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOTSUP" || code === "EOPNOTSUPP") {
        throw new EnvdError(
          "failed_precondition",
          `the filesystem holding '${path}' does not support metadata`,
          { cause: err },
        );
      }
      if (code === "ENOSPC" || code === "E2BIG" || code === "ERANGE") {
        throw new EnvdError("invalid_argument", `metadata for '${path}' is too large`, {
          cause: err,
        });
      }
      throw new EnvdError("internal", `cannot write metadata of '${path}': ${String(err)}`, {
        cause: err,
      });
    }
  }
}
