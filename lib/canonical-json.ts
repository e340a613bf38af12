/**
 * Canonical JSON: the same value always gives the same text, whatever order its object keys were
 * set in, so a hash of it identifies content (a desired object, a spec) rather than a spelling.
 */
import { createHash } from "node:crypto";

/** JSON with object keys sorted (by code unit) at every level and undefined members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The first `length` hex digits (default 16) of the sha256 of {@link canonicalJson}(value). */
export function canonicalHash(value: unknown, length = 16): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, length);
}
