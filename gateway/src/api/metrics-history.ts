/**
 * Per-sandbox metrics history for `GET /sandboxes/{id}/metrics?start&end` (E2B keeps a sample every
 * 5 s for the sandbox's life). The gateway samples envd's `/metrics` of every Ready sandbox in its
 * cache every 5 s and keeps the samples in memory, bounded per sandbox, until the sandbox leaves
 * the cache.
 *
 * Why here: the gateway already holds the cache of every sandbox and its envd token, and its
 * history outlives the pod (a Filesystem or Memory pause replaces the pod; the sandbox's history
 * stays). What that costs: the history is lost when the gateway restarts, and each gateway replica
 * keeps its own (the samples of two replicas differ by when each took them).
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import type { Logger } from "../../../lib/log.js";
import { e2bState, isReady } from "../sandboxes/sandbox-state.js";
import type { E2bMetric } from "./e2b-json.js";
import { badRequest } from "./errors.js";
import { parseIntParam } from "./logs-v2.js";

/** E2B's sampling interval. */
export const SAMPLE_INTERVAL_MS = 5_000;
/** The most samples kept per sandbox: 24 h at 5 s (E2B's longest sandbox life). */
export const MAX_SAMPLES = 17_280;
/** envd reads in flight at once: a round over many sandboxes must not open a socket to each. */
const MAX_CONCURRENT_READS = 32;

/** Runs `f` over `items` with at most `limit` calls in flight. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A bounded, time-ordered series of samples. Pure data structure. */
export class MetricSeries {
  private readonly samples: E2bMetric[] = [];
  constructor(private readonly max = MAX_SAMPLES) {}

  /** Adds a sample; one at the same second as the last replaces it, older ones are dropped. */
  add(m: E2bMetric): void {
    const last = this.samples.at(-1);
    if (last && m.timestampUnix < last.timestampUnix) return;
    if (last && m.timestampUnix === last.timestampUnix) this.samples.pop();
    this.samples.push(m);
    if (this.samples.length > this.max) this.samples.splice(0, this.samples.length - this.max);
  }

  /** The samples with `start <= timestampUnix <= end` (seconds; either bound may be absent), oldest first. */
  range(start?: number, end?: number): E2bMetric[] {
    return this.samples.filter(
      (m) =>
        (start === undefined || m.timestampUnix >= start) &&
        (end === undefined || m.timestampUnix <= end),
    );
  }

  get size(): number {
    return this.samples.length;
  }
}

/** The history of every sandbox the gateway samples. */
export interface MetricsHistory {
  /** The samples of sandbox `uid` in `[start, end]` (seconds). */
  range(uid: string, start?: number, end?: number): E2bMetric[];
  /** Takes one round of samples now (the timer calls it every 5 s); resolves when done. */
  sampleNow(): Promise<void>;
  stop(): void;
}

/** What the sampler needs: the cached sandboxes and a way to read one sample. */
export interface MetricsHistoryDeps {
  all(): readonly Sandbox[];
  read(s: Sandbox): Promise<E2bMetric | undefined>;
  log: Logger;
  intervalMs?: number;
}

/** Starts sampling every `intervalMs` (default 5 s). Keyed by sandbox uid: a new sandbox of the same name starts empty. */
export function startMetricsHistory(deps: MetricsHistoryDeps): MetricsHistory {
  const series = new Map<string, MetricSeries>();
  let running: Promise<void> | undefined;
  const round = async () => {
    const live = new Set<string>();
    await eachLimited(deps.all(), MAX_CONCURRENT_READS, async (s) => {
      const uid = s.metadata.uid;
      if (!uid || s.metadata.deletionTimestamp) return;
      live.add(uid);
      // E2B samples running sandboxes only: a paused one has a gap, not frozen numbers.
      if (!isReady(s) || e2bState(s) !== "running") return;
      const m = await deps.read(s).catch((err: unknown) => {
        deps.log.debug("metrics sample failed", { sandboxId: s.metadata.name, err: String(err) });
        return undefined;
      });
      if (!m) return;
      let ser = series.get(uid);
      if (!ser) series.set(uid, (ser = new MetricSeries()));
      ser.add(m);
    });
    // A sandbox that left the cache (deleted) takes its history with it.
    for (const uid of series.keys()) if (!live.has(uid)) series.delete(uid);
  };
  const sampleNow = () => (running ??= round().finally(() => (running = undefined)));
  const timer = setInterval(() => void sampleNow(), deps.intervalMs ?? SAMPLE_INTERVAL_MS);
  timer.unref();
  return {
    range: (uid, start, end) => series.get(uid)?.range(start, end) ?? [],
    sampleNow,
    stop: () => clearInterval(timer),
  };
}

/**
 * Parses `start` and `end` (Unix seconds, at least 0, both optional) of `GET /sandboxes/{id}/metrics`;
 * throws a 400 with E2B's messages (its validator's for a malformed number, `Invalid time range for
 * metrics` for start after end).
 */
export function parseMetricsRange(q: Record<string, unknown>): { start?: number; end?: number } {
  const start = parseIntParam("start", q.start, 0);
  if (typeof start === "object") throw badRequest(start.error);
  const end = parseIntParam("end", q.end, 0);
  if (typeof end === "object") throw badRequest(end.error);
  if (start !== undefined && end !== undefined && start > end)
    throw badRequest("Invalid time range for metrics");
  const out: { start?: number; end?: number } = {};
  if (start !== undefined) out.start = start;
  if (end !== undefined) out.end = end;
  return out;
}
