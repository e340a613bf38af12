/**
 * An overlay upper directory as an OCI image layer (a tar stream): the container's changes over
 * its image. Overlay marks a deleted file with a 0/0 character device and a directory that hides
 * its lower contents with the `trusted.overlay.opaque` xattr; an OCI layer says the same with a
 * `.wh.<name>` file and a `.wh..wh..opq` file. Paths that are mounts inside the container are
 * left out (their bytes are not in the upper directory anyway), and so are entries a tar layer
 * cannot carry here (device nodes, sockets, fifos), which are reported.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Stats } from "node:fs";
import { getAttribute, listAttributes } from "fs-xattr";
import type tar from "tar-stream";

/** A header as `pack.entry` takes it (every field but the name optional). */
type EntryHeader = Partial<tar.Header> & { name: string };

/** What {@link writeLayer} wrote. */
export interface LayerSummary {
  entries: number;
  skipped: string[];
}

/** OCI's whiteout prefix and opaque-directory marker. */
export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
const OVERLAY_OPAQUE = "trusted.overlay.opaque";

/**
 * The chunk size of a layer's streams (file reads, zstd in and out). Node's defaults (64 KiB
 * reads, 16 KiB zstd chunks) cost a thread-pool round trip per few KiB: with 1 MiB chunks a GiB
 * compresses and decompresses about six times faster (measured in bench/RESULTS.md).
 */
export const LAYER_CHUNK = 1 << 20;

/** True when `path` (absolute in the container) is `dest` or under it, for any destination. Pure. */
export function isUnderAny(path: string, destinations: readonly string[]): boolean {
  return destinations.some((d) => path === d || path.startsWith(`${d}/`));
}

/** True when the entry is overlay's whiteout: a character device 0/0. */
function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** The entry's xattrs as PAX records (`{ pax }`), or nothing when it has none. */
async function xattrs(path: string): Promise<{ pax?: Record<string, string> }> {
  const pax = await paxXattrs(path);
  return Object.keys(pax).length ? { pax } : {};
}

async function paxXattrs(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let names: string[];
  try {
    names = await listAttributes(path);
  } catch {
    return out; // a filesystem without xattrs
  }
  for (const name of names) {
    if (name.startsWith("trusted.overlay.")) continue;
    try {
      out[`SCHILY.xattr.${name}`] = (await getAttribute(path, name)).toString("latin1");
    } catch {
      // gone meanwhile, or not readable: the file itself still goes in
    }
  }
  return out;
}

async function isOpaque(path: string): Promise<boolean> {
  try {
    return (await getAttribute(path, OVERLAY_OPAQUE)).toString() === "y";
  } catch {
    return false;
  }
}

function baseHeader(name: string, st: Stats): EntryHeader {
  return {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: st.mtime,
  };
}

/** Adds one entry and waits until the pack took it (its body streamed, for a file). */
function addEntry(pack: tar.Pack, header: EntryHeader, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? "", (err) => (err ? reject(err) : resolve()));
  });
}

async function addFile(pack: tar.Pack, header: EntryHeader, path: string): Promise<void> {
  const sink = pack.entry(header);
  await pipeline(createReadStream(path, { highWaterMark: LAYER_CHUNK }), sink);
}

/**
 * Writes the layer of `upper` into `pack` and finalizes it. `exclude` are absolute container
 * paths to leave out (mount destinations). Entries go parent first, in name order, so the same
 * directory gives the same layer.
 */
export async function writeLayer(
  pack: tar.Pack,
  upper: string,
  exclude: readonly string[],
): Promise<LayerSummary> {
  const summary: LayerSummary = { entries: 0, skipped: [] };
  const links = new Map<string, string>(); // dev:ino → first name, for hard links

  async function walk(dir: string, rel: string): Promise<void> {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = join(dir, name);
      const inContainer = `/${rel}${name}`;
      if (isUnderAny(inContainer, exclude)) continue;
      const st = await lstat(path);
      const entry = `${rel}${name}`;
      if (isWhiteout(st)) {
        await addEntry(pack, {
          ...baseHeader(`${rel}${WHITEOUT_PREFIX}${name}`, st),
          mode: 0o644,
          type: "file",
          size: 0,
        });
      } else if (st.isDirectory()) {
        await addEntry(pack, {
          ...baseHeader(`${entry}/`, st),
          type: "directory",
          ...(await xattrs(path)),
        });
        if (await isOpaque(path))
          await addEntry(pack, {
            ...baseHeader(`${entry}/${OPAQUE_MARKER}`, st),
            mode: 0o644,
            type: "file",
            size: 0,
          });
        await walk(path, `${entry}/`);
      } else if (st.isSymbolicLink()) {
        await addEntry(pack, {
          ...baseHeader(entry, st),
          type: "symlink",
          linkname: await readlink(path),
        });
      } else if (st.isFile()) {
        const id = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(id) : undefined;
        if (first) {
          await addEntry(pack, { ...baseHeader(entry, st), type: "link", linkname: first });
        } else {
          if (st.nlink > 1) links.set(id, entry);
          await addFile(
            pack,
            { ...baseHeader(entry, st), type: "file", size: st.size, ...(await xattrs(path)) },
            path,
          );
        }
      } else {
        summary.skipped.push(inContainer);
        continue;
      }
      summary.entries++;
    }
  }

  try {
    await walk(upper, "");
    pack.finalize();
  } catch (err) {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  return summary;
}
