/**
 * When Sandboxes took pods of each pool, for the predictive warm-up (a pool keeps as many pods
 * ready as were claimed in its last demand window). Kept in the operator's memory: the demand
 * is a rate, not state, and a new leader starts from minReady and learns it again within one
 * window. Counting claims from the cluster instead (claimed pods, Sandboxes) would miss every
 * short-lived sandbox, which is exactly the load a pool exists for.
 */

/** Claims per pool (key: `namespace/pool`). */
export interface ClaimLog {
  /** Records one claim of `pool` at `at`. */
  record(pool: string, at: Date): void;
  /** Claims of `pool` in the `windowMs` before `now`, and the latest one. Forgets older ones. */
  recent(pool: string, windowMs: number, now: Date): { count: number; last?: Date };
}

/** Keeps at most `cap` claim times per pool (the newest). */
export function createClaimLog(cap = 10_000): ClaimLog {
  const byPool = new Map<string, number[]>();
  return {
    record(pool, at) {
      const times = byPool.get(pool) ?? [];
      times.push(at.getTime());
      if (times.length > cap) times.splice(0, times.length - cap);
      byPool.set(pool, times);
    },
    recent(pool, windowMs, now) {
      const times = byPool.get(pool);
      if (!times?.length) return { count: 0 };
      const since = now.getTime() - windowMs;
      const kept = times.filter((t) => t > since && t <= now.getTime());
      const last = times.at(-1);
      if (kept.length === 0) byPool.delete(pool);
      else byPool.set(pool, kept);
      return { count: kept.length, ...(last !== undefined ? { last: new Date(last) } : {}) };
    },
  };
}

/** Claims per minute, as the pool's status prints it (`1.5`). Pure. */
export function claimRate(count: number, windowMs: number): string {
  const perMinute = (count * 60_000) / windowMs;
  return Number.isInteger(perMinute) ? String(perMinute) : perMinute.toFixed(2);
}
