/**
 * Per-key rate limits: a token bucket per key name (`rate` tokens a second, at most `burst`),
 * pure apart from the clock it is given. Buckets that have refilled completely are forgotten,
 * so memory stays bounded by the keys active in the last `burst / rate` seconds.
 */

/** A rate limiter over many keys. */
export interface RateLimiter {
  /** Takes one token for `key`: ok, or how many seconds until one is there. */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token-bucket limiter; `now` returns milliseconds (injected for tests). */
export function createRateLimiter(
  rate: number,
  burst: number,
  now: () => number = () => performance.now(),
): RateLimiter {
  if (!(rate > 0) || !(burst >= 1))
    throw new Error(`rate limit needs rate > 0 and burst ≥ 1 (got ${rate}, ${burst})`);
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();
  const sweep = (t: number) => {
    // Full buckets behave exactly like absent ones; dropping them keeps the map small.
    if (t - lastSweep < 60_000) return;
    lastSweep = t;
    for (const [k, b] of buckets)
      if (b.tokens + ((t - b.at) / 1000) * rate >= burst) buckets.delete(k);
  };
  return {
    take(key) {
      const t = now();
      sweep(t);
      const b = buckets.get(key) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
    },
  };
}
