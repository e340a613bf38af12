/**
 * API keys, pure: their format, their hash, and the entries of the keys Secret. A key is `e2b_`
 * and 40 hex digits (the shape E2B's keys have, so tools that check it are happy); only its SHA-256
 * is stored, one Secret data entry per key: name → JSON {@link KeyEntry}.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** One stored key. */
export interface KeyEntry {
  /** The team namespace the key acts in. */
  team: string;
  /** SHA-256 of the key, lowercase hex. */
  sha256: string;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339; the key is refused from then on. Absent: no expiry. */
  expiresAt?: string;
}

/** A key entry with its name (the Secret data key). */
export interface NamedKey extends KeyEntry {
  name: string;
}

const KEY_FORMAT = /^e2b_[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;
/** Secret data keys: what Kubernetes allows, kept short. */
export const KEY_NAME = /^[-._a-zA-Z0-9]{1,63}$/;
/** Namespace names (DNS labels). */
export const TEAM_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A fresh random key. */
export function generateKey(): string {
  return `e2b_${randomBytes(20).toString("hex")}`;
}

/** True when `key` has the shape of a key this gateway issues. */
export function looksLikeKey(key: string): boolean {
  return KEY_FORMAT.test(key);
}

/** SHA-256 of a key, lowercase hex. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Compares two hex SHA-256 digests in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/**
 * Reads the entries of the keys Secret's `data` (base64 JSON). Entries that are not valid are
 * returned in `invalid` with the reason, so the gateway can log them instead of failing.
 */
export function parseKeyEntries(data: Record<string, string> | undefined): {
  keys: NamedKey[];
  invalid: { name: string; reason: string }[];
} {
  const keys: NamedKey[] = [];
  const invalid: { name: string; reason: string }[] = [];
  for (const [name, b64] of Object.entries(data ?? {})) {
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
    } catch {
      invalid.push({ name, reason: "not JSON" });
      continue;
    }
    const e = v as Partial<KeyEntry> | null;
    if (!e || typeof e !== "object") invalid.push({ name, reason: "not an object" });
    else if (typeof e.team !== "string" || !TEAM_NAME.test(e.team))
      invalid.push({ name, reason: "team is not a namespace name" });
    else if (typeof e.sha256 !== "string" || !HEX64.test(e.sha256))
      invalid.push({ name, reason: "sha256 is not 64 lowercase hex digits" });
    else if (e.expiresAt !== undefined && Number.isNaN(Date.parse(String(e.expiresAt))))
      invalid.push({ name, reason: "expiresAt is not a date" });
    else {
      const k: NamedKey = {
        name,
        team: e.team,
        sha256: e.sha256,
        createdAt: String(e.createdAt ?? ""),
      };
      if (e.expiresAt !== undefined) k.expiresAt = String(e.expiresAt);
      keys.push(k);
    }
  }
  return { keys, invalid };
}

/** The Secret data value of an entry (base64 JSON). */
export function encodeKeyEntry(e: KeyEntry): string {
  const body: KeyEntry = { team: e.team, sha256: e.sha256, createdAt: e.createdAt };
  if (e.expiresAt !== undefined) body.expiresAt = e.expiresAt;
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64");
}

/** The outcome of checking a presented key. */
export type KeyCheck =
  | { ok: true; key: NamedKey }
  | { ok: false; reason: "missing" | "unknown" | "expired"; key?: NamedKey };

/**
 * Finds the entry whose hash matches `presented` (every entry is compared, in constant time each,
 * so timing tells nothing about which or how many matched) and checks its expiry at `now`.
 */
export function checkKey(
  keys: readonly NamedKey[],
  presented: string | undefined,
  now: Date,
): KeyCheck {
  if (!presented) return { ok: false, reason: "missing" };
  const digest = hashKey(presented);
  let found: NamedKey | undefined;
  for (const k of keys) if (sameHash(k.sha256, digest)) found = found ?? k;
  if (!found) return { ok: false, reason: "unknown" };
  if (found.expiresAt !== undefined && Date.parse(found.expiresAt) <= now.getTime())
    return { ok: false, reason: "expired", key: found };
  return { ok: true, key: found };
}

/**
 * The key in a request's headers: `X-API-Key`, else `Authorization: Bearer <token>`
 * (header names are case-insensitive; node lowercases them).
 */
export function presentedKey(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim();
  const apiKey = first(headers["x-api-key"]);
  if (apiKey) return apiKey;
  const auth = first(headers.authorization);
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}
