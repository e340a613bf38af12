import { createHash, timingSafeEqual } from "node:crypto";

/** File operations a signature can grant, as E2B names them. */
export type FileOperation = "read" | "write";

/** What a signed `/files` URL binds together. */
export interface SignatureInput {
  path: string;
  operation: FileOperation;
  user: string;
  token: string;
  /** Unix seconds; absent for signatures that never expire. */
  expiration?: number;
  /** SoulBox extension: a one-time nonce (needs an expiration). */
  nonce?: string;
}

/**
 * Computes E2B's file-URL signature: `v1_` + unpadded base64 of SHA-256 over
 * `path:operation:user:token[:expiration]`. With a nonce (a SoulBox
 * extension) `:nonce:<nonce>` is appended, so a nonce signature can never be
 * mistaken for a plain one. Pure.
 */
export function computeSignature(s: SignatureInput): string {
  let raw = `${s.path}:${s.operation}:${s.user}:${s.token}`;
  if (s.expiration !== undefined) raw += `:${s.expiration}`;
  if (s.nonce !== undefined) raw += `:nonce:${s.nonce}`;
  return "v1_" + createHash("sha256").update(raw).digest("base64").replace(/=+$/, "");
}

/** Compares two signatures in constant time (for equal lengths). Pure. */
export function signaturesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
