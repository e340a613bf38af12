/**
 * Client-side envelope encryption of objects (AES-256-GCM, node:crypto only).
 *
 * - A keyring holds key-encryption keys by id, loaded from a mounted Secret directory: one file per
 *   key id holding the base64 of 32 random bytes, and a file `active` naming the key that wraps new
 *   data keys. Rotation: add a key and point `active` at it; objects written before keep their own
 *   key id in their manifest and stay readable as long as that key stays in the keyring. A keyring
 *   without `active` only reads.
 * - Each object gets a random 256-bit data key, wrapped by the active key with AES-256-GCM and the
 *   object's key as additional data (a wrapped key moved to another object does not unwrap).
 * - The data is cut into chunks of `chunkSize` plaintext bytes, each sealed on its own (so a get
 *   streams and a range reads only its chunks) with the nonce `noncePrefix (8 random bytes) ‖
 *   uint32 index` and the additional data `uint64 index ‖ last-chunk flag`: a reordered, dropped,
 *   truncated or appended chunk fails authentication. An empty object is one empty last chunk.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { StorageError } from "./object-store.js";

/** AES-256-GCM's tag length: what each chunk grows by. */
export const TAG_BYTES = 16;
/** The plaintext bytes per chunk of new objects. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** The name of the keyring file that names the active key. */
export const ACTIVE_FILE = "active";

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Key-encryption keys by id, and the one that wraps new data keys (absent: read only). */
export interface Keyring {
  readonly keys: ReadonlyMap<string, Buffer>;
  readonly activeKeyId?: string;
}

/**
 * A keyring from keys given as bytes or base64 strings. Fails with InvalidConfig on a bad id, a
 * key that is not 32 bytes, or an `active` id the keyring lacks.
 */
export function createKeyring(
  keys: Record<string, Uint8Array | string>,
  activeKeyId?: string,
): Keyring {
  const map = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(keys)) {
    if (!KEY_ID.test(id) || id === ACTIVE_FILE)
      throw new StorageError(
        "InvalidConfig",
        `keyring: bad key id ${JSON.stringify(id)} (letters, digits, . _ -)`,
      );
    const key =
      typeof value === "string" ? Buffer.from(value.trim(), "base64") : Buffer.from(value);
    if (key.length !== 32)
      throw new StorageError(
        "InvalidConfig",
        `keyring: key ${id} is ${key.length} bytes; it must be the base64 of 32 random bytes`,
      );
    map.set(id, key);
  }
  if (activeKeyId !== undefined && !map.has(activeKeyId))
    throw new StorageError(
      "InvalidConfig",
      `keyring: the active key ${JSON.stringify(activeKeyId)} is not in the keyring`,
    );
  return { keys: map, activeKeyId };
}

/**
 * Loads a keyring from a mounted Secret directory (files named by key id, and `active`). The
 * `..data`-style entries Kubernetes adds to a Secret volume are skipped.
 */
export async function loadKeyring(dir: string): Promise<Keyring> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new StorageError("InvalidConfig", `keyring directory ${dir} cannot be read`, {
      cause: err,
    });
  }
  const keys: Record<string, string> = {};
  let active: string | undefined;
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const text = (await readFile(join(dir, name), "utf8")).trim();
    if (name === ACTIVE_FILE) active = text;
    else keys[name] = text;
  }
  return createKeyring(keys, active === "" ? undefined : active);
}

/** How an object is encrypted: what its manifest keeps. */
export interface ObjectEncryption {
  keyId: string;
  /** base64 of nonce (12) ‖ wrapped data key (32) ‖ tag (16). */
  wrappedKey: string;
  /** base64 of the 8-byte nonce prefix of the data chunks. */
  noncePrefix: string;
  chunkSize: number;
}

/** A fresh data key for `objectKey`, wrapped by the keyring's active key. */
export function newDataKey(
  keyring: Keyring,
  objectKey: string,
  chunkSize = DEFAULT_CHUNK_SIZE,
): { dataKey: Buffer; encryption: ObjectEncryption } {
  const keyId = keyring.activeKeyId;
  const kek = keyId === undefined ? undefined : keyring.keys.get(keyId);
  if (keyId === undefined || !kek)
    throw new StorageError("KeyUnavailable", "keyring has no active key to encrypt with");
  const dataKey = randomBytes(32);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", kek, nonce);
  cipher.setAAD(Buffer.from(objectKey, "utf8"));
  const sealed = Buffer.concat([
    nonce,
    cipher.update(dataKey),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return {
    dataKey,
    encryption: {
      keyId,
      wrappedKey: sealed.toString("base64"),
      noncePrefix: randomBytes(8).toString("base64"),
      chunkSize,
    },
  };
}

/**
 * The data key of `objectKey`. KeyUnavailable when the keyring lacks the key id, or when the key
 * under that id does not unwrap it (other key material under the same id, or an altered manifest).
 */
export function unwrapDataKey(
  keyring: Keyring | undefined,
  enc: ObjectEncryption,
  objectKey: string,
): Buffer {
  const kek = keyring?.keys.get(enc.keyId);
  if (!kek)
    throw new StorageError(
      "KeyUnavailable",
      `${objectKey} is encrypted with key ${JSON.stringify(enc.keyId)}, which this store's keyring does not have`,
    );
  const sealed = Buffer.from(enc.wrappedKey, "base64");
  if (sealed.length !== 12 + 32 + TAG_BYTES)
    throw new StorageError("IntegrityMismatch", `${objectKey}: the wrapped data key is malformed`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(objectKey, "utf8"));
    decipher.setAuthTag(sealed.subarray(44));
    return Buffer.concat([decipher.update(sealed.subarray(12, 44)), decipher.final()]);
  } catch (err) {
    throw new StorageError(
      "KeyUnavailable",
      `${objectKey}: key ${JSON.stringify(enc.keyId)} does not unwrap its data key (other key material under that id, or the manifest was altered)`,
      { cause: err },
    );
  }
}

/** How many chunks `plainSize` bytes make (an empty object is one empty chunk). */
export function chunkCount(plainSize: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(plainSize / chunkSize));
}

/** The stored (encrypted) size of `plainSize` bytes. */
export function encryptedSize(plainSize: number, chunkSize: number): number {
  return plainSize + TAG_BYTES * chunkCount(plainSize, chunkSize);
}

function nonceFor(prefix: Buffer, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0, 0, 8);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function aadFor(index: number, last: boolean): Buffer {
  const aad = Buffer.alloc(9);
  aad.writeBigUInt64BE(BigInt(index), 0);
  aad[8] = last ? 1 : 0;
  return aad;
}

/** Seals one chunk. */
export function sealChunk(
  dataKey: Buffer,
  prefix: Buffer,
  index: number,
  last: boolean,
  plain: Uint8Array,
): Buffer {
  const cipher = createCipheriv("aes-256-gcm", dataKey, nonceFor(prefix, index));
  cipher.setAAD(aadFor(index, last));
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Opens one chunk; IntegrityMismatch when it was altered, moved, or is not the chunk expected. */
export function openChunk(
  dataKey: Buffer,
  prefix: Buffer,
  index: number,
  last: boolean,
  sealed: Uint8Array,
): Buffer {
  if (sealed.length < TAG_BYTES)
    throw new StorageError("IntegrityMismatch", `encrypted chunk ${index} is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", dataKey, nonceFor(prefix, index));
    decipher.setAAD(aadFor(index, last));
    decipher.setAuthTag(Buffer.from(sealed.subarray(sealed.length - TAG_BYTES)));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (err) {
    throw new StorageError(
      "IntegrityMismatch",
      `encrypted chunk ${index} failed authentication: the stored object was altered or truncated`,
      { cause: err },
    );
  }
}

/** Collects byte chunks and hands them out in pieces of a given size. */
class Rebuffer {
  private parts: Buffer[] = [];
  length = 0;
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.length += chunk.byteLength;
  }
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.parts[0]!;
      const want = n - filled;
      if (head.length <= want) {
        head.copy(out, filled);
        filled += head.length;
        this.parts.shift();
      } else {
        head.copy(out, filled, 0, want);
        this.parts[0] = head.subarray(want);
        filled += want;
      }
    }
    this.length -= n;
    return out;
  }
}

/** Encrypts a plaintext stream into sealed chunks (the last one flagged as last). */
export async function* encryptChunks(
  source: AsyncIterable<Uint8Array>,
  dataKey: Buffer,
  enc: ObjectEncryption,
): AsyncGenerator<Buffer> {
  const prefix = Buffer.from(enc.noncePrefix, "base64");
  const buf = new Rebuffer();
  let index = 0;
  for await (const chunk of source) {
    buf.push(chunk);
    // Keep a full chunk back until more data shows it is not the last.
    while (buf.length > enc.chunkSize)
      yield sealChunk(dataKey, prefix, index++, false, buf.take(enc.chunkSize));
  }
  yield sealChunk(dataKey, prefix, index, true, buf.take(buf.length));
}

/**
 * Decrypts sealed chunks `firstChunk..lastChunk` (as stored, back to back) of an object of
 * `totalChunks` chunks. IntegrityMismatch when a chunk fails authentication or the stream ends
 * early or runs long.
 */
export async function* decryptChunks(
  source: AsyncIterable<Uint8Array>,
  dataKey: Buffer,
  enc: ObjectEncryption,
  firstChunk: number,
  lastChunk: number,
  totalChunks: number,
): AsyncGenerator<Buffer> {
  const prefix = Buffer.from(enc.noncePrefix, "base64");
  const frame = enc.chunkSize + TAG_BYTES;
  const buf = new Rebuffer();
  let index = firstChunk;
  for await (const chunk of source) {
    buf.push(chunk);
    while (buf.length >= frame) {
      if (index > lastChunk)
        throw new StorageError(
          "IntegrityMismatch",
          "encrypted object is longer than its manifest says",
        );
      yield openChunk(dataKey, prefix, index, index === totalChunks - 1, buf.take(frame));
      index++;
    }
  }
  if (buf.length > 0) {
    if (index > lastChunk)
      throw new StorageError(
        "IntegrityMismatch",
        "encrypted object is longer than its manifest says",
      );
    yield openChunk(dataKey, prefix, index, index === totalChunks - 1, buf.take(buf.length));
    index++;
  }
  if (index !== lastChunk + 1)
    throw new StorageError(
      "IntegrityMismatch",
      "encrypted object is truncated: chunks are missing",
    );
}

/** Where a plaintext range lies in the stored chunks. */
export interface ChunkRange {
  firstChunk: number;
  lastChunk: number;
  /** The stored bytes to read: `start` inclusive, `end` exclusive. */
  blobStart: number;
  blobEnd: number;
  /** Plaintext bytes to drop from the first decrypted chunk. */
  skip: number;
  /** Plaintext bytes to hand on after that. */
  length: number;
}

/**
 * Maps the plaintext range [start, end) of an object of `plainSize` bytes to whole stored chunks.
 * The caller has checked 0 <= start <= end <= plainSize; an empty range maps to the chunk it
 * starts in (so its read still authenticates one chunk).
 */
export function mapRange(
  start: number,
  end: number,
  plainSize: number,
  chunkSize: number,
): ChunkRange {
  const total = chunkCount(plainSize, chunkSize);
  const firstChunk = Math.min(Math.floor(start / chunkSize), total - 1);
  const lastChunk = end > start ? Math.floor((end - 1) / chunkSize) : firstChunk;
  const frame = chunkSize + TAG_BYTES;
  return {
    firstChunk,
    lastChunk,
    blobStart: firstChunk * frame,
    blobEnd: Math.min((lastChunk + 1) * frame, encryptedSize(plainSize, chunkSize)),
    skip: start - firstChunk * chunkSize,
    length: end - start,
  };
}
