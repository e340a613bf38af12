/**
 * E2B's `volumeMounts` of `POST /sandboxes`, checked the way E2B checks them: each mount names a
 * volume of the team by name and an absolute, clean path; every problem is listed, by index, in
 * one 400 (`invalid mounts:\n\t- volume mount #0: volume 'x' not found`). SoulBox also refuses
 * `/` and the paths the system and the sandbox runtime own. Pure.
 */
import { posix } from "node:path";
import { badRequest } from "../api/errors.js";
import { isRecord } from "../api/validate.js";

/** A mount as the request gives it. */
export interface RequestedMount {
  name: string;
  path: string;
}

/** A checked mount: the claim to mount and where. */
export interface ClaimMount {
  volume: string;
  path: string;
}

/** Paths a volume may not be mounted at or under: the kernel's, and envd's runtime (/soulbox). */
export const RESERVED_MOUNT_PATHS = ["/proc", "/sys", "/dev", "/soulbox"] as const;

/** The shape check of `volumeMounts` (a list of `{name, path}` strings); [] when absent. */
export function parseVolumeMounts(value: unknown): RequestedMount[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest("volumeMounts must be a list of {name, path}");
  return value.map((m: unknown, i) => {
    if (!isRecord(m) || typeof m.name !== "string" || typeof m.path !== "string")
      throw badRequest(`volumeMounts[${i}] must be an object {name, path} of strings`);
    return { name: m.name, path: m.path };
  });
}

/** Why `path` cannot be a mount path, or undefined when it can. */
export function mountPathProblem(path: string): string | undefined {
  if (path === "") return "path cannot be empty";
  if (!path.startsWith("/")) return "path must be absolute";
  if (posix.normalize(path) !== path || (path.length > 1 && path.endsWith("/")))
    return "path must not contain any '.' or '..' components";
  if (path === "/") return "path must not be '/'";
  const reserved = RESERVED_MOUNT_PATHS.find((r) => path === r || path.startsWith(`${r}/`));
  if (reserved) return `path '${path}' is reserved: nothing may be mounted at or under ${reserved}`;
  return undefined;
}

/**
 * The claims to mount, or a 400 listing every problem. `claimOf` gives the claim of the team's
 * volume of a name (undefined: no such volume).
 */
export function checkVolumeMounts(
  mounts: readonly RequestedMount[],
  claimOf: (name: string) => string | undefined,
): ClaimMount[] {
  const problems: string[] = [];
  const used = new Set<string>();
  const out: ClaimMount[] = [];
  mounts.forEach((m, index) => {
    const claim = claimOf(m.name);
    const problem =
      claim === undefined
        ? `volume '${m.name}' not found`
        : (mountPathProblem(m.path) ??
          (used.has(m.path) ? `path '${m.path}' is already used` : undefined));
    if (problem) {
      problems.push(`\t- volume mount #${index}: ${problem}`);
      return;
    }
    used.add(m.path);
    out.push({ volume: claim ?? "", path: m.path });
  });
  if (problems.length > 0) throw badRequest(`invalid mounts:\n${problems.join("\n")}`);
  return out;
}
