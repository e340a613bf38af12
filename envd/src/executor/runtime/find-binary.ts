import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";

/**
 * Looks `name` up the way a shell does: each directory of `pathVar` in order (empty entries
 * skipped), the first regular file there that is executable. A name with a slash is taken as
 * a path (absolute only). Resolves with the full path, or undefined when there is none.
 */
export async function findBinary(
  name: string,
  pathVar: string | undefined,
): Promise<string | undefined> {
  if (name.includes("/")) return isAbsolute(name) && (await isExecutable(name)) ? name : undefined;
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir === "" || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
