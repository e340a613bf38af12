/**
 * The file backend: blobs are files under a directory (a mounted PVC or a host path). A blob is
 * written to a temporary file in its own directory, fsynced, then renamed over its name (or
 * linked, for a conditional create: link(2) fails with EEXIST when the name is taken), so a reader
 * never sees a half-written file and a crash leaves only `.tmp-*` files, which listing skips.
 */
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  chown,
  link,
  mkdir,
  open,
  opendir,
  readFile,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";

import { toStorageError } from "../errors.js";
import { StorageError } from "../object-store.js";
import type { BlobDriver, BlobEntry, BlobPage, BlobRange } from "./driver.js";

/** Where a temporary file's name starts; listing skips such names and keys may not use them. */
export const TEMP_PREFIX = ".tmp-";

/** Who owns what the store writes (a uid and gid). */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * A file driver rooted at the absolute directory `root` (created on the first write). With
 * `owner`, every directory it creates and every file it writes is given to that owner (the writer
 * must be root, or that owner already).
 */
export function createFileDriver(root: string, owner?: FileOwner): BlobDriver {
  return new FileDriver(root, owner);
}

class FileDriver implements BlobDriver {
  readonly displayUrl: string;

  constructor(
    private readonly root: string,
    private readonly owner?: FileOwner,
  ) {
    this.displayUrl = `file://${root}`;
  }

  /** Gives `path` to the store's owner; a writer that may not is a configuration error. */
  private async own(path: string): Promise<void> {
    if (!this.owner) return;
    await chown(path, this.owner.uid, this.owner.gid).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== "EPERM") throw err;
      throw new StorageError(
        "InvalidConfig",
        `${this.displayUrl}: cannot give ${path} to owner ${this.owner?.uid}:${this.owner?.gid} (option owner needs a root writer)`,
        { cause: err },
      );
    });
  }

  /** Gives every directory from `first` (the first one mkdir created) down to `dir` to the owner. */
  private async ownCreated(first: string | undefined, dir: string): Promise<void> {
    if (!this.owner || first === undefined) return;
    // Directories above the root (made for a root that did not exist) are not the store's.
    let p = relative(this.root, first).startsWith("..") ? this.root : first;
    await this.own(p);
    for (const part of relative(p, dir)
      .split(sep)
      .filter((x) => x !== "")) {
      p = join(p, part);
      await this.own(p);
    }
  }

  private path(name: string): string {
    return join(this.root, ...name.split("/"));
  }

  private fail(err: unknown, what: string, name: string): StorageError {
    const code = (err as { code?: unknown }).code;
    // A key that is a directory here (because "a/b" exists) is no object.
    if (code === "EISDIR")
      return new StorageError("NotFound", `${what} ${this.displayUrl}/${name}: not found`, {
        cause: err,
      });
    // A key whose parent is an object ("a" exists, "a/b" is put): a file tree cannot hold both.
    if (code === "ENOTDIR" && what !== "open")
      return new StorageError(
        "InvalidArgument",
        `${what} ${this.displayUrl}/${name}: a path component is an object, not a directory (a file store cannot keep both "a" and "a/b")`,
        { cause: err },
      );
    return toStorageError(err, `${what} ${this.displayUrl}/${name}`);
  }

  /** Fails with InvalidConfig when the root exists but is no directory. */
  async checkRoot(): Promise<void> {
    try {
      const s = await stat(this.root);
      if (!s.isDirectory())
        throw new StorageError("InvalidConfig", `${this.displayUrl} is not a directory`);
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") return;
      if ((err as { code?: unknown }).code === "ENOTDIR")
        throw new StorageError(
          "InvalidConfig",
          `${this.displayUrl}: a path component is not a directory`,
          { cause: err },
        );
      throw toStorageError(err, `open ${this.displayUrl}`);
    }
  }

  /** Writes `body` to a fresh temporary file beside `final` and fsyncs it; returns its path. */
  private async writeTemp(
    final: string,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<string> {
    await this.checkRoot();
    const first = await mkdir(dirname(final), { recursive: true }).catch((err: unknown) => {
      // mkdir says EEXIST when a path component is a file (an object): that is no conflict of
      // the key itself, and must not read as AlreadyExists.
      if ((err as { code?: unknown }).code === "EEXIST")
        throw Object.assign(new Error((err as Error).message), { code: "ENOTDIR", cause: err });
      throw err;
    });
    await this.ownCreated(first, dirname(final));
    const temp = join(dirname(final), `${TEMP_PREFIX}${randomUUID()}`);
    const fh = await open(temp, "wx", 0o640);
    try {
      if (this.owner) await this.own(temp);
      for await (const chunk of body) {
        signal?.throwIfAborted();
        await fh.write(chunk);
      }
      signal?.throwIfAborted();
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await fh.close();
    return temp;
  }

  /** fsyncs a directory so a rename or link in it survives a crash (best effort: not every fs allows it). */
  private async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, "r").catch(() => undefined);
    await fh?.sync().catch(() => undefined);
    await fh?.close().catch(() => undefined);
  }

  async upload(name: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const final = this.path(name);
    try {
      const temp = await this.writeTemp(final, body, signal);
      await rename(temp, final).catch(async (err: unknown) => {
        await unlink(temp).catch(() => undefined);
        throw err;
      });
      await this.syncDir(dirname(final));
    } catch (err) {
      throw this.fail(err, "upload", name);
    }
  }

  async putSmall(name: string, bytes: Uint8Array, ifNotExists: boolean): Promise<void> {
    const final = this.path(name);
    try {
      const temp = await this.writeTemp(final, [bytes]);
      try {
        if (ifNotExists) await link(temp, final);
        else await rename(temp, final);
      } finally {
        if (ifNotExists) await unlink(temp).catch(() => undefined);
      }
      await this.syncDir(dirname(final));
    } catch (err) {
      throw this.fail(err, "put", name);
    }
  }

  async getSmall(name: string, limit: number): Promise<Uint8Array> {
    try {
      const s = await stat(this.path(name));
      if (!s.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      if (s.size > limit)
        throw new StorageError(
          "IntegrityMismatch",
          `${this.displayUrl}/${name} is larger than ${limit} bytes`,
        );
      return await readFile(this.path(name));
    } catch (err) {
      throw this.fail(err, "get", name);
    }
  }

  async download(name: string, range?: BlobRange): Promise<Readable> {
    try {
      // Open first, so a missing file fails the call rather than the stream.
      const fh = await open(this.path(name), "r");
      const s = await fh.stat();
      if (!s.isFile()) {
        await fh.close();
        throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      }
      return createReadStream("", {
        fd: fh,
        start: range?.start,
        end: range ? range.end - 1 : undefined,
        highWaterMark: 1 << 20,
      });
    } catch (err) {
      throw this.fail(err, "get", name);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await unlink(this.path(name));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw this.fail(err, "delete", name);
    }
  }

  async listPage(prefix: string, pageSize: number, cursor?: string): Promise<BlobPage> {
    // Walk only the directory the prefix ends in; a file store's list is a walk and a sort, which
    // is fine for the thousands of objects a PVC holds.
    const slash = prefix.lastIndexOf("/");
    const dirPart = slash < 0 ? "" : prefix.slice(0, slash);
    const entries: BlobEntry[] = [];
    try {
      await this.walk(dirPart, prefix, entries);
    } catch (err) {
      throw this.fail(err, "list", prefix);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const after = cursor === undefined ? entries : entries.filter((e) => e.name > cursor);
    const page = after.slice(0, pageSize);
    const last = page.at(-1);
    return after.length > pageSize && last
      ? { entries: page, cursor: last.name }
      : { entries: page };
  }

  private async walk(dir: string, prefix: string, out: BlobEntry[]): Promise<void> {
    let handle;
    try {
      handle = await opendir(dir === "" ? this.root : this.path(dir));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw err;
    }
    for await (const d of handle) {
      if (d.name.startsWith(TEMP_PREFIX)) continue;
      const name = dir === "" ? d.name : `${dir}/${d.name}`;
      if (d.isDirectory()) {
        // Descend only where the prefix can still match.
        if (`${name}/`.startsWith(prefix) || prefix.startsWith(`${name}/`))
          await this.walk(name, prefix, out);
      } else if (d.isFile() && name.startsWith(prefix)) {
        const s = await stat(join(this.root, ...name.split("/"))).catch(() => undefined);
        if (s) out.push({ name, size: s.size, lastModified: s.mtime });
      }
    }
  }

  async close(): Promise<void> {}
}

// Paths are built from "/"-separated names; a platform with another separator is not supported.
if (sep !== "/") throw new Error("the file storage backend needs a POSIX path separator");
