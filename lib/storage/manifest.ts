/**
 * The commit record of an object: a small JSON document stored under the object's key once its
 * bytes are wholly stored in a blob (`.blobs/<uuid>`). No manifest, no object: that is what makes a
 * half-written upload invisible on every provider, and what carries the sha256 (known only when
 * the last byte went by) and the encryption envelope.
 */
import type { ObjectEncryption } from "./encryption.js";
import { StorageError } from "./object-store.js";

/** The manifest format this code writes and reads. */
export const MANIFEST_FORMAT = "soulbox.dev/object/v1";
/** Manifests are small; anything larger under a key is not ours. */
export const MANIFEST_LIMIT = 64 * 1024;
/** The folder (under the store's prefix) that holds the blobs. */
export const BLOB_FOLDER = ".blobs";

/** An object's commit record. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** Plaintext size in bytes. */
  size: number;
  /** Hex sha256 of the plaintext. */
  sha256: string;
  metadata: Record<string, string>;
  /** ISO 8601. */
  committedAt: string;
  /** The blob's name relative to the store's prefix (`.blobs/<uuid>`). */
  blob: string;
  /** The blob's stored size (larger than `size` when encrypted). */
  blobSize: number;
  encryption?: ObjectEncryption;
}

/** The manifest as stored. */
export function encodeManifest(m: Manifest): Uint8Array {
  return Buffer.from(JSON.stringify(m), "utf8");
}

const SHA256 = /^[0-9a-f]{64}$/;
const BLOB = new RegExp(`^\\${BLOB_FOLDER}/[0-9a-f-]{36}$`);
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads a stored manifest. Anything that is not a well-formed manifest of this format fails with
 * IntegrityMismatch naming `key`, never half-trusted.
 */
export function decodeManifest(bytes: Uint8Array, key: string): Manifest {
  const bad = (why: string) =>
    new StorageError("IntegrityMismatch", `object ${key}: its manifest is not valid (${why})`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw new StorageError("IntegrityMismatch", `object ${key}: its manifest is not JSON`, {
      cause: err,
    });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not an object");
  const m = raw as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT)
    throw bad(`format ${JSON.stringify(m.format)}, want ${MANIFEST_FORMAT}`);
  if (!isCount(m.size)) throw bad("size");
  if (typeof m.sha256 !== "string" || !SHA256.test(m.sha256)) throw bad("sha256");
  if (typeof m.committedAt !== "string" || Number.isNaN(Date.parse(m.committedAt)))
    throw bad("committedAt");
  if (typeof m.blob !== "string" || !BLOB.test(m.blob)) throw bad("blob");
  if (!isCount(m.blobSize)) throw bad("blobSize");
  const md = m.metadata;
  if (typeof md !== "object" || md === null || Array.isArray(md)) throw bad("metadata");
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== "string") throw bad(`metadata ${k}`);
    metadata[k] = v;
  }
  const out: Manifest = {
    format: MANIFEST_FORMAT,
    size: m.size,
    sha256: m.sha256,
    metadata,
    committedAt: m.committedAt,
    blob: m.blob,
    blobSize: m.blobSize,
  };
  if (m.encryption !== undefined) {
    const e = m.encryption as Record<string, unknown>;
    if (typeof e !== "object" || e === null) throw bad("encryption");
    if (typeof e.keyId !== "string" || e.keyId === "") throw bad("encryption.keyId");
    if (typeof e.wrappedKey !== "string" || !B64.test(e.wrappedKey))
      throw bad("encryption.wrappedKey");
    if (typeof e.noncePrefix !== "string" || Buffer.from(e.noncePrefix, "base64").length !== 8)
      throw bad("encryption.noncePrefix");
    if (!isCount(e.chunkSize) || e.chunkSize < 1024 || e.chunkSize > 16 * 1024 * 1024)
      throw bad("encryption.chunkSize");
    out.encryption = {
      keyId: e.keyId,
      wrappedKey: e.wrappedKey,
      noncePrefix: e.noncePrefix,
      chunkSize: e.chunkSize,
    };
  }
  return out;
}
