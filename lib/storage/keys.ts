/**
 * What a caller may pass as a key, a list prefix, metadata or a range: checked before any byte
 * moves, so bad input fails with InvalidArgument and changes nothing. The rules are the strictest
 * of the five backends (a key must also be a relative file path) plus the store's own reserved
 * names.
 */
import { BLOB_FOLDER } from "./manifest.js";
import { StorageError, type ByteRange } from "./object-store.js";

/** The longest key, in UTF-8 bytes (S3 and GCS allow 1024; the store's prefix needs room). */
export const MAX_KEY_BYTES = 900;
/** The most metadata per object, in UTF-8 bytes of keys and values together. */
export const MAX_METADATA_BYTES = 8 * 1024;

const TEMP_PREFIX = ".tmp-";
// Control characters and the backslash (Azure turns it into "/").
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;

function invalid(message: string): StorageError {
  return new StorageError("InvalidArgument", message);
}

/** Fails with InvalidArgument unless `key` can name an object. */
export function checkKey(key: string): void {
  if (typeof key !== "string" || key === "") throw invalid("an object key must not be empty");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES)
    throw invalid(`object key is longer than ${MAX_KEY_BYTES} bytes`);
  if (FORBIDDEN.test(key))
    throw invalid(`object key ${JSON.stringify(key)} has a control character or a backslash`);
  const segments = key.split("/");
  for (const s of segments) {
    if (s === "")
      throw invalid(
        `object key ${JSON.stringify(key)} has an empty path segment (leading, trailing or double "/")`,
      );
    if (s === "." || s === "..")
      throw invalid(`object key ${JSON.stringify(key)} has a "." or ".." segment`);
    if (s.startsWith(TEMP_PREFIX))
      throw invalid(`object key ${JSON.stringify(key)}: "${TEMP_PREFIX}" names are reserved`);
  }
  if (segments[0] === BLOB_FOLDER)
    throw invalid(
      `object key ${JSON.stringify(key)}: "${BLOB_FOLDER}/" is reserved for the store's blobs`,
    );
}

/** Fails with InvalidArgument unless `prefix` can start keys ("" lists everything). */
export function checkPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw invalid("a list prefix must be a string");
  if (prefix.startsWith("/"))
    throw invalid(`list prefix ${JSON.stringify(prefix)} must not start with "/"`);
  if (FORBIDDEN.test(prefix))
    throw invalid(`list prefix ${JSON.stringify(prefix)} has a control character or a backslash`);
  if (Buffer.byteLength(prefix, "utf8") > MAX_KEY_BYTES) throw invalid("list prefix is too long");
}

/** Fails with InvalidArgument unless `metadata` has lower-case [a-z0-9-] keys and fits. */
export function checkMetadata(metadata: Record<string, string>): void {
  let bytes = 0;
  for (const [k, v] of Object.entries(metadata)) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(k))
      throw invalid(
        `metadata key ${JSON.stringify(k)}: lower-case letters, digits and "-", at most 63`,
      );
    if (typeof v !== "string") throw invalid(`metadata ${k}: values are strings`);
    bytes += Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8");
  }
  if (bytes > MAX_METADATA_BYTES)
    throw invalid(`metadata is ${bytes} bytes; at most ${MAX_METADATA_BYTES}`);
}

/**
 * The range [start, end) of an object of `size` bytes that `range` asks for, or InvalidArgument
 * when it does not lie within the object (a range past the end is an error, not a short read).
 */
export function resolveRange(
  range: ByteRange,
  size: number,
  key: string,
): { start: number; end: number } {
  const { start } = range;
  const end = range.end ?? size;
  if (Number.isSafeInteger(start) && Number.isSafeInteger(end) && (start > size || end > size))
    throw invalid(
      `range ${start}-${end} of ${key} lies past the end of the object (${size} bytes)`,
    );
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start)
    throw invalid(`range ${start}-${range.end ?? ""} of ${key} is not a range (0 <= start <= end)`);
  if (start > size || end > size)
    throw invalid(
      `range ${start}-${end} of ${key} lies past the end of the object (${size} bytes)`,
    );
  return { start, end };
}
