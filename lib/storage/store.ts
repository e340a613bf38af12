/**
 * The {@link ObjectStore} over any {@link BlobDriver}, the same on every provider:
 *
 * 1. `put` streams the body into a fresh blob `.blobs/<uuid>` while computing its sha256 and size
 *    (and encrypting it, with a keyring that has an active key);
 * 2. then it writes the object's manifest (./manifest.ts) under the key: a conditional create for
 *    `ifNotExists`, an overwrite otherwise. Only then is the object visible; a put that fails or
 *    loses the race deletes its blob (and a crash leaves an orphan that {@link sweepOrphanBlobs}
 *    removes).
 * 3. `get` reads the manifest, then streams the blob through a decrypting and verifying
 *    transform: a whole-object stream whose sha256 or size differs ends with IntegrityMismatch
 *    instead of its last chunk.
 */
import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";

import type { BlobDriver, BlobEntry } from "./drivers/driver.js";
import {
  chunkCount,
  decryptChunks,
  encryptChunks,
  encryptedSize,
  mapRange,
  newDataKey,
  unwrapDataKey,
  type Keyring,
  type ObjectEncryption,
} from "./encryption.js";
import { toStorageError } from "./errors.js";
import { checkKey, checkMetadata, checkPrefix, resolveRange } from "./keys.js";
import {
  BLOB_FOLDER,
  MANIFEST_FORMAT,
  MANIFEST_LIMIT,
  decodeManifest,
  encodeManifest,
  type Manifest,
} from "./manifest.js";
import {
  StorageError,
  isStorageError,
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PutBody,
  type PutOptions,
} from "./object-store.js";

/** Options of {@link createObjectStore}. */
export interface StoreOptions {
  /** Keys to decrypt with and, when it has an active key, to encrypt new objects with. */
  keyring?: Keyring;
}

/** How many manifests `list` reads at once. */
const LIST_CONCURRENCY = 8;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** An {@link ObjectStore} over `driver`. */
export function createObjectStore(driver: BlobDriver, options: StoreOptions = {}): ObjectStore {
  return new ManifestStore(driver, options.keyring);
}

function aborted(signal: AbortSignal, what: string): StorageError {
  return new StorageError("Aborted", `${what}: aborted`, { cause: signal.reason });
}

async function* bodyChunks(body: PutBody): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>)
    yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

function infoOf(key: string, m: Manifest): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: m.size,
    sha256: m.sha256,
    metadata: { ...m.metadata },
    committedAt: new Date(m.committedAt),
  };
  if (m.encryption) info.keyId = m.encryption.keyId;
  return info;
}

class ManifestStore implements ObjectStore {
  readonly displayUrl: string;

  constructor(
    readonly driver: BlobDriver,
    private readonly keyring: Keyring | undefined,
  ) {
    this.displayUrl = driver.displayUrl;
  }

  private where(key: string): string {
    return `${this.displayUrl} ${key}`;
  }

  async readManifest(key: string): Promise<Manifest> {
    const bytes = await this.driver.getSmall(key, MANIFEST_LIMIT).catch((err: unknown) => {
      const e = toStorageError(err, `head ${this.where(key)}`);
      if (e.code === "NotFound")
        throw new StorageError("NotFound", `no object ${key} in ${this.displayUrl}`, {
          cause: err,
        });
      throw e;
    });
    return decodeManifest(bytes, key);
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    checkKey(key);
    const metadata = { ...(options.metadata ?? {}) };
    checkMetadata(metadata);
    const expected = options.expectedSha256?.toLowerCase();
    if (expected !== undefined && !SHA256_HEX.test(expected))
      throw new StorageError("InvalidArgument", `expectedSha256 of ${key} is not a hex sha256`);
    const { signal } = options;
    if (signal?.aborted) throw aborted(signal, `put ${this.where(key)}`);
    // A conditional create over a committed object fails before any byte is sent (the manifest's
    // conditional create below is what decides; this only spares a doomed upload).
    if (options.ifNotExists && (await this.exists(key)))
      throw new StorageError(
        "AlreadyExists",
        `put ${this.where(key)}: an object is already committed under this key`,
      );

    const blob = `${BLOB_FOLDER}/${randomUUID()}`;
    let encryption: ObjectEncryption | undefined;
    let dataKey: Buffer | undefined;
    if (this.keyring?.activeKeyId !== undefined)
      ({ dataKey, encryption } = newDataKey(this.keyring, key));

    const hash = createHash("sha256");
    let size = 0;
    let bodyError: StorageError | undefined;
    const what = `put ${this.where(key)}`;
    // Only errors from reading the body (or our own abort check) are the body's fault; an error
    // the uploader throws into this generator (it stopped pulling) is the provider's.
    const fromBody = (err: unknown): StorageError =>
      (bodyError = isStorageError(err)
        ? err
        : new StorageError(
            "Aborted",
            `${what}: reading the body failed: ${(err as Error)?.message ?? err}`,
            {
              cause: err,
            },
          ));
    async function* plain(): AsyncGenerator<Uint8Array> {
      const it = bodyChunks(body)[Symbol.asyncIterator]();
      try {
        for (;;) {
          let next: IteratorResult<Uint8Array>;
          try {
            if (signal?.aborted) throw aborted(signal, what);
            next = await it.next();
          } catch (err) {
            throw fromBody(err);
          }
          if (next.done) break;
          const chunk = next.value;
          hash.update(chunk);
          size += chunk.byteLength;
          options.onProgress?.(size);
          yield chunk;
        }
        if (signal?.aborted) throw fromBody(aborted(signal, what));
      } finally {
        await it.return?.(undefined);
      }
    }
    const stored = encryption && dataKey ? encryptChunks(plain(), dataKey, encryption) : plain();

    try {
      await this.driver.upload(blob, stored, signal);
    } catch (err) {
      await this.driver.remove(blob).catch(() => undefined);
      if (bodyError) throw bodyError;
      if (signal?.aborted) throw aborted(signal, what);
      throw toStorageError(err, what);
    }
    const sha256 = hash.digest("hex");
    if (expected !== undefined && sha256 !== expected) {
      await this.driver.remove(blob).catch(() => undefined);
      throw new StorageError(
        "IntegrityMismatch",
        `${what}: the body's sha256 is ${sha256}, expected ${expected}`,
      );
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      size,
      sha256,
      metadata,
      committedAt: new Date().toISOString(),
      blob,
      blobSize: encryption ? encryptedSize(size, encryption.chunkSize) : size,
    };
    if (encryption) manifest.encryption = encryption;

    // An overwrite orphans the blob of the manifest it replaces: remember it to delete after.
    const replaced = options.ifNotExists
      ? undefined
      : await this.readManifest(key).catch(() => undefined);
    try {
      if (signal?.aborted) throw aborted(signal, what);
      await this.driver.putSmall(key, encodeManifest(manifest), options.ifNotExists === true);
    } catch (err) {
      await this.driver.remove(blob).catch(() => undefined);
      const e = toStorageError(err, what);
      if (e.code === "AlreadyExists")
        throw new StorageError(
          "AlreadyExists",
          `${what}: an object is already committed under this key`,
          { cause: err },
        );
      throw e;
    }
    if (replaced && replaced.blob !== blob)
      await this.driver.remove(replaced.blob).catch(() => undefined);
    return infoOf(key, manifest);
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.driver.getSmall(key, MANIFEST_LIMIT);
      return true;
    } catch (err) {
      if (isStorageError(err, "NotFound")) return false;
      throw toStorageError(err, `head ${this.where(key)}`);
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    checkKey(key);
    return infoOf(key, await this.readManifest(key));
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    checkKey(key);
    const { signal } = options;
    const what = `get ${this.where(key)}`;
    if (signal?.aborted) throw aborted(signal, what);
    const m = await this.readManifest(key);
    const whole = options.range === undefined;
    const { start, end } = options.range
      ? resolveRange(options.range, m.size, key)
      : { start: 0, end: m.size };
    const dataKey = m.encryption ? unwrapDataKey(this.keyring, m.encryption, key) : undefined;

    let source: AsyncIterable<Uint8Array>;
    let blobStream: Readable | undefined;
    if (m.encryption && dataKey) {
      const r = mapRange(start, end, m.size, m.encryption.chunkSize);
      const raw = await this.download(m.blob, { start: r.blobStart, end: r.blobEnd }, signal, what);
      blobStream = raw;
      const total = chunkCount(m.size, m.encryption.chunkSize);
      source = cut(
        decryptChunks(raw, dataKey, m.encryption, r.firstChunk, r.lastChunk, total),
        r.skip,
        r.length,
      );
    } else if (end === start) {
      source = Readable.from([]);
    } else {
      blobStream = await this.download(m.blob, whole ? undefined : { start, end }, signal, what);
      source = blobStream;
    }
    const checked = whole ? verifyWhole(source, m, key) : checkLength(source, end - start, key);
    const out = Readable.from(mapErrors(checked, what), {
      objectMode: false,
      highWaterMark: 1 << 20,
    });
    // A stream destroyed before its first read never starts the generators above, so their
    // cleanup never runs: the driver's stream (an open file, a socket) is closed here instead.
    out.once("close", () => blobStream?.destroy());
    if (signal) {
      const onAbort = () => out.destroy(aborted(signal, what));
      signal.addEventListener("abort", onAbort, { once: true });
      out.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    return out;
  }

  private async download(
    blob: string,
    range: { start: number; end: number } | undefined,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<Readable> {
    try {
      return await this.driver.download(blob, range, signal);
    } catch (err) {
      const e = toStorageError(err, what);
      // A manifest whose blob is gone is a broken object, not a missing one.
      if (e.code === "NotFound")
        throw new StorageError(
          "IntegrityMismatch",
          `${what}: the object's data (${blob}) is missing`,
          { cause: err },
        );
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    let m: Manifest | undefined;
    try {
      m = await this.readManifest(key);
    } catch (err) {
      if (isStorageError(err, "NotFound")) return;
      // A corrupt manifest is still deleted; its blob, if any, is left to the sweep.
      if (!isStorageError(err, "IntegrityMismatch")) throw err;
    }
    await this.driver.remove(key).catch((err: unknown) => {
      throw toStorageError(err, `delete ${this.where(key)}`);
    });
    if (m) await this.driver.remove(m.blob).catch(() => undefined);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkPrefix(prefix);
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw new StorageError("InvalidArgument", `list pageSize ${pageSize}: 1 to 1000`);
    let cursor = options.cursor;
    // Pages that hold only blobs (listing from "") are skipped, so a page is empty only at the end.
    for (;;) {
      const page = await this.driver.listPage(prefix, pageSize, cursor).catch((err: unknown) => {
        throw toStorageError(err, `list ${this.displayUrl} ${prefix}`);
      });
      const names = page.entries.filter((e) => isObjectName(e.name));
      const objects = await mapLimit(names, LIST_CONCURRENCY, async (e) => {
        try {
          return infoOf(e.name, await this.readManifest(e.name));
        } catch (err) {
          // Deleted since the listing, or not one of ours: not an object of this store.
          if (isStorageError(err, "NotFound") || isStorageError(err, "IntegrityMismatch"))
            return undefined;
          throw err;
        }
      });
      const found = objects.filter((o): o is ObjectInfo => o !== undefined);
      cursor = page.cursor;
      if (found.length > 0 || cursor === undefined)
        return cursor === undefined ? { objects: found } : { objects: found, cursor };
    }
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

function isObjectName(name: string): boolean {
  return !name.startsWith(`${BLOB_FOLDER}/`);
}

async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Drops `skip` bytes, then hands on `length` bytes and stops. */
async function* cut(
  source: AsyncIterable<Uint8Array>,
  skip: number,
  length: number,
): AsyncGenerator<Uint8Array> {
  let toSkip = skip;
  let left = length;
  for await (const chunk of source) {
    let c = chunk;
    if (toSkip > 0) {
      const n = Math.min(toSkip, c.byteLength);
      c = c.subarray(n);
      toSkip -= n;
    }
    if (left <= 0) continue; // keep reading: the later chunks are still authenticated
    if (c.byteLength > left) c = c.subarray(0, left);
    left -= c.byteLength;
    if (c.byteLength > 0) yield c;
  }
}

/** Hands on exactly `length` bytes or fails with IntegrityMismatch (a range read short or long). */
async function* checkLength(
  source: AsyncIterable<Uint8Array>,
  length: number,
  key: string,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.byteLength;
    if (seen > length)
      throw new StorageError(
        "IntegrityMismatch",
        `${key}: the provider sent more bytes than the range holds`,
      );
    yield chunk;
  }
  if (seen !== length)
    throw new StorageError(
      "IntegrityMismatch",
      `${key}: the stored object is shorter than its manifest says`,
    );
}

/**
 * Hands on the whole object, holding each chunk back until the next arrives, and at the end hands
 * on the last one only when size and sha256 match the manifest: a consumer never gets the end of
 * a stream that does not verify.
 */
async function* verifyWhole(
  source: AsyncIterable<Uint8Array>,
  m: Manifest,
  key: string,
): AsyncGenerator<Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  let held: Uint8Array | undefined;
  for await (const chunk of source) {
    if (chunk.byteLength === 0) continue;
    hash.update(chunk);
    size += chunk.byteLength;
    if (size > m.size)
      throw new StorageError(
        "IntegrityMismatch",
        `${key}: the stored object is longer than its manifest says (${m.size} bytes)`,
      );
    if (held) yield held;
    held = chunk;
  }
  if (size !== m.size)
    throw new StorageError(
      "IntegrityMismatch",
      `${key}: the stored object is ${size} bytes, its manifest says ${m.size}`,
    );
  const sha256 = hash.digest("hex");
  if (sha256 !== m.sha256)
    throw new StorageError(
      "IntegrityMismatch",
      `${key}: the stored bytes' sha256 is ${sha256}, the object's is ${m.sha256}; refused`,
    );
  if (held) yield held;
}

/** Provider errors met while streaming become StorageErrors. */
async function* mapErrors(
  source: AsyncIterable<Uint8Array>,
  what: string,
): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (err) {
    throw toStorageError(err, what);
  }
}

/** Options of {@link sweepOrphanBlobs}. */
export interface SweepOptions {
  /** Only blobs last written longer ago than this (an upload still running must not be swept). */
  olderThanMs: number;
  /** The time to measure against; defaults to now. */
  now?: Date;
}

/**
 * Deletes the blobs that no manifest references and that are older than `olderThanMs`: what a
 * put that crashed between its upload and its commit (or a failed cleanup) left behind. Returns
 * the names deleted. Safe to run beside writers as long as `olderThanMs` exceeds the longest
 * upload.
 */
export async function sweepOrphanBlobs(
  store: ObjectStore,
  options: SweepOptions,
): Promise<string[]> {
  if (!(store instanceof ManifestStore))
    throw new StorageError(
      "InvalidConfig",
      "sweepOrphanBlobs needs a store made by openObjectStore",
    );
  const cutoff = (options.now ?? new Date()).getTime() - options.olderThanMs;
  const old = (await allEntries(store.driver, `${BLOB_FOLDER}/`)).filter(
    (e) => e.lastModified.getTime() < cutoff,
  );
  if (old.length === 0) return [];
  const referenced = new Set<string>();
  for (const e of await allEntries(store.driver, "")) {
    if (!isObjectName(e.name)) continue;
    const m = await store.readManifest(e.name).catch(() => undefined);
    if (m) referenced.add(m.blob);
  }
  const deleted: string[] = [];
  for (const e of old) {
    if (referenced.has(e.name)) continue;
    await store.driver.remove(e.name);
    deleted.push(e.name);
  }
  return deleted;
}

async function allEntries(driver: BlobDriver, prefix: string): Promise<BlobEntry[]> {
  const out: BlobEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await driver.listPage(prefix, 1000, cursor);
    out.push(...page.entries);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}
