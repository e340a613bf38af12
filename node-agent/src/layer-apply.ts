/**
 * Applies an OCI layer (a tar stream) to a container's merged root filesystem, before any of
 * the container's own processes run: whiteouts delete, opaque markers empty a directory, the
 * rest is written with its owner, mode, times and xattrs. The agent runs as root on the host, so
 * every path is walked component by component without following a symbolic link: a layer (or an
 * image) whose link points at `/etc` must never make the agent write the host's `/etc`.
 */
import { constants, createWriteStream } from "node:fs";
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
} from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { setAttribute } from "fs-xattr";
import tar from "tar-stream";
import { NodeAgentError } from "./errors.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "./layer-writer.js";

/** What {@link applyLayer} did. */
export interface ApplySummary {
  entries: number;
  /** Entries not applied, each with why (a path through a link, a type not carried). */
  skipped: string[];
}

/**
 * The components of a layer path, checked: relative, no `..`, no empty parts. Throws
 * InvalidArgument for a path that would leave the root. Pure.
 */
export function layerPathParts(name: string): string[] {
  const trimmed = name.replace(/^\.\//, "").replace(/\/+$/, "");
  if (!trimmed || trimmed.startsWith("/"))
    throw new NodeAgentError("InvalidArgument", `layer entry "${name}" is not a relative path`);
  const parts = trimmed.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".."))
    throw new NodeAgentError("InvalidArgument", `layer entry "${name}" leaves the root filesystem`);
  return parts;
}

/** What the entry does, by its base name. Pure. */
export function entryKind(parts: readonly string[]): "opaque" | "whiteout" | "plain" {
  const base = parts.at(-1) ?? "";
  if (base === OPAQUE_MARKER) return "opaque";
  if (base.startsWith(WHITEOUT_PREFIX)) return "whiteout";
  return "plain";
}

class LinkInPath extends Error {}

/**
 * The host path of `parts`' parent directory under `root`, every component a real directory
 * (created when missing). Throws LinkInPath when a component is a link or not a directory.
 */
async function parentDir(root: string, parts: readonly string[]): Promise<string> {
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => undefined);
    if (!st) await mkdir(dir, { mode: 0o755 });
    else if (!st.isDirectory()) throw new LinkInPath(dir);
  }
  return dir;
}

async function removeAny(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

async function setXattrs(path: string, pax: Record<string, string> | undefined): Promise<void> {
  for (const [key, value] of Object.entries(pax ?? {})) {
    if (!key.startsWith("SCHILY.xattr.")) continue;
    await setAttribute(path, key.slice("SCHILY.xattr.".length), Buffer.from(value, "latin1")).catch(
      () => undefined,
    );
  }
}

async function writeFile(path: string, header: tar.Header, body: Readable): Promise<void> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing) await removeAny(path);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(path, flags, 0o600);
  await pipeline(body, createWriteStream("", { fd: handle, flush: false }));
  await chown(path, header.uid ?? 0, header.gid ?? 0);
  await chmod(path, header.mode ?? 0o644);
}

async function applyDirectory(path: string, header: tar.Header): Promise<void> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !existing.isDirectory()) await removeAny(path);
  if (!existing || !existing.isDirectory()) await mkdir(path);
  await chown(path, header.uid ?? 0, header.gid ?? 0);
  await chmod(path, header.mode ?? 0o755);
}

/**
 * Applies the layer `source` to `root` (a merged root filesystem on this host). Fails with
 * InvalidArgument on an entry that would leave the root; entries under a link are skipped and
 * reported. The stream's own error (a sha256 mismatch of the store) fails the apply.
 */
export async function applyLayer(source: Readable, root: string): Promise<ApplySummary> {
  const summary: ApplySummary = { entries: 0, skipped: [] };
  const extract = tar.extract();
  const done = pipeline(source, extract);
  // When an entry fails, the loop's error is the one to report, not the pipe's premature close.
  done.catch(() => undefined);
  for await (const entry of extract) {
    const header = entry.header;
    const parts = layerPathParts(header.name);
    try {
      const dir = await parentDir(root, parts);
      const base = parts.at(-1) ?? "";
      const path = join(dir, base);
      switch (entryKind(parts)) {
        case "opaque":
          for (const child of await readdir(dir)) await removeAny(join(dir, child));
          break;
        case "whiteout":
          await removeAny(join(dir, base.slice(WHITEOUT_PREFIX.length)));
          break;
        case "plain":
          await applyPlain(root, path, header, entry as unknown as Readable);
      }
      summary.entries++;
    } catch (err) {
      if (!(err instanceof LinkInPath)) throw err;
      summary.skipped.push(
        `/${parts.join("/")} (a parent is a link or not a directory: ${err.message})`,
      );
    } finally {
      entry.resume();
    }
  }
  await done;
  return summary;
}

async function applyPlain(
  root: string,
  path: string,
  header: tar.Header,
  body: Readable,
): Promise<void> {
  switch (header.type) {
    case "directory":
      await applyDirectory(path, header);
      break;
    case "file":
    case "contiguous-file":
      await writeFile(path, header, body);
      break;
    case "symlink":
      await removeAny(path);
      await symlink(header.linkname ?? "", path);
      await lchown(path, header.uid ?? 0, header.gid ?? 0);
      break;
    case "link": {
      const targetParts = layerPathParts(header.linkname ?? "");
      const target = join(await parentDir(root, targetParts), targetParts.at(-1) ?? "");
      await removeAny(path);
      await link(target, path);
      return; // a hard link shares the target's owner, mode and times
    }
    default:
      throw new LinkInPath(`type ${header.type ?? "?"} is not carried`);
  }
  await setXattrs(path, header.pax as Record<string, string> | undefined);
  if (header.mtime) await lutimes(path, header.mtime, header.mtime);
}
