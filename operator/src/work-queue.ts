/**
 * A level-triggered, de-duplicating work queue keyed by "namespace/name", in
 * the manner of client-go's rate-limited queue:
 * - a key added many times before it is processed is processed once;
 * - at most one reconcile per key is in flight; a key added while it is in
 *   flight is processed again right after (nothing is lost, nothing runs twice at once);
 * - a failed reconcile is retried with per-key exponential backoff, reset on success;
 * - `{ requeueAfterMs }` schedules the key again without a sleep.
 */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** Reconciles one key; throwing means "retry with backoff". */
export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/** Options for {@link createWorkQueue}. */
export interface WorkQueueOptions {
  reconcile: Reconcile;
  /** Parallel reconciles (different keys). Default 4. */
  workers?: number;
  /** First retry delay; doubles per failure up to `maxDelayMs`. Defaults 50 ms and 5 min. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after every reconcile, for metrics and logs. */
  onResult?: (
    key: string,
    outcome: { error?: unknown; durationMs: number; retryInMs?: number },
  ) => void;
}

/** The queue's public face. */
export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, delayMs: number): void;
  /** Keys waiting to be processed now (not in flight, not delayed). */
  readonly depth: number;
  /** Failures in a row for a key (0 after a success). */
  failures(key: string): number;
  /** Stops taking work; resolves when in-flight reconciles finished. */
  shutdown(): Promise<void>;
}

/** The delay before retry number `failures` (1-based). Pure. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

/** Creates a {@link WorkQueue}. */
export function createWorkQueue(opts: WorkQueueOptions): WorkQueue {
  const workers = opts.workers ?? 4;
  const base = opts.baseDelayMs ?? 50;
  const max = opts.maxDelayMs ?? 5 * 60_000;
  const queue: string[] = [];
  const queued = new Set<string>();
  const inFlight = new Set<string>();
  const dirty = new Set<string>();
  const timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  const failureCount = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let stopped = false;

  const pump = () => {
    while (!stopped && running.size < workers) {
      const index = queue.findIndex((k) => !inFlight.has(k));
      if (index < 0) return;
      const [key] = queue.splice(index, 1) as [string];
      queued.delete(key);
      const p = process(key).finally(() => {
        running.delete(p);
        pump();
      });
      running.add(p);
    }
  };

  const enqueue = (key: string) => {
    if (stopped) return;
    if (inFlight.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    queue.push(key);
    pump();
  };

  const later = (key: string, delayMs: number) => {
    if (stopped) return;
    const at = Date.now() + delayMs;
    const existing = timers.get(key);
    if (existing && existing.at <= at) return; // an earlier wake-up is already planned
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      timers.delete(key);
      enqueue(key);
    }, delayMs);
    timer.unref();
    timers.set(key, { at, timer });
  };

  async function process(key: string): Promise<void> {
    inFlight.add(key);
    const started = performance.now();
    let retryInMs: number | undefined;
    try {
      const result = await opts.reconcile(key);
      failureCount.delete(key);
      if (result?.requeueAfterMs !== undefined) later(key, Math.max(0, result.requeueAfterMs));
      opts.onResult?.(key, { durationMs: performance.now() - started });
    } catch (error) {
      const n = (failureCount.get(key) ?? 0) + 1;
      failureCount.set(key, n);
      retryInMs = backoffDelay(n, base, max);
      later(key, retryInMs);
      opts.onResult?.(key, { error, durationMs: performance.now() - started, retryInMs });
    } finally {
      inFlight.delete(key);
      if (dirty.delete(key)) enqueue(key);
    }
  }

  return {
    add: enqueue,
    addAfter: (key, delayMs) => (delayMs <= 0 ? enqueue(key) : later(key, delayMs)),
    get depth() {
      return queue.length;
    },
    failures: (key) => failureCount.get(key) ?? 0,
    async shutdown() {
      stopped = true;
      for (const { timer } of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all([...running]);
    },
  };
}
