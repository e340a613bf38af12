/**
 * Remembers one-time nonces until their signature expires, so a signed URL
 * with a nonce works once. Bounded: when full, expired entries go first, then
 * the oldest.
 */
export interface NonceCache {
  /** Records the nonce; false when it was already used (a replay). */
  use(nonce: string, expiresAtMs: number): boolean;
  readonly size: number;
}

/** Creates a {@link NonceCache} holding at most `capacity` nonces. */
export function createNonceCache(capacity = 100_000, now: () => number = Date.now): NonceCache {
  // A Map iterates in insertion order: the first key is the oldest.
  const seen = new Map<string, number>();
  const evict = () => {
    const t = now();
    for (const [k, exp] of seen) {
      if (exp <= t) seen.delete(k);
    }
    while (seen.size >= capacity) {
      const oldest = seen.keys().next().value;
      if (oldest === undefined) break;
      seen.delete(oldest);
    }
  };
  return {
    get size() {
      return seen.size;
    },
    use(nonce, expiresAtMs) {
      const exp = seen.get(nonce);
      if (exp !== undefined && exp > now()) return false;
      if (seen.size >= capacity) evict();
      seen.delete(nonce);
      seen.set(nonce, expiresAtMs);
      return true;
    },
  };
}
