/**
 * Which pod address a sandbox route goes to, read from the informer cache on every request (never
 * an API call), so that a sandbox that expires, pauses or fails stops answering at once.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { autoResumes, e2bState, isExpired, isReady } from "../sandboxes/sandbox-state.js";

/**
 * The part of the gateway's SandboxIndex (gateway/src/sandboxes/sandbox-index.ts) the proxy uses:
 * a cache lookup by id. Any SandboxIndex is one.
 */
export interface SandboxLookup {
  /** The gateway-created Sandbox named `id` from the cache; undefined when unknown. */
  get(id: string): Sandbox | undefined;
}

/** What to do with a request for one sandbox, decided from the cached object alone. */
export type TargetDecision =
  { kind: "forward"; host: string } | { kind: "resume" } | { kind: "refuse"; message: string };

/**
 * Decides from a cached Sandbox: forward to its pod IP, resume it first (paused with auto-resume),
 * or refuse with a message for the 502 body. Order matters: a sandbox paused by its timeout is
 * also expired, and auto-resume wins over that (resuming extends the timeout). Pure.
 */
export function decideTarget(id: string, s: Sandbox | undefined, now: Date): TargetDecision {
  if (!s) return refuse(`sandbox ${id} not found`);
  if (s.metadata.deletionTimestamp) return refuse(`sandbox ${id} is being deleted`);
  const phase = s.status?.phase;
  if (phase === "Failed") return refuse(`sandbox ${id} has failed`);
  if (e2bState(s) === "paused" || phase === "Resuming") {
    if (autoResumes(s)) return { kind: "resume" };
    return refuse(phase === "Resuming" ? `sandbox ${id} is resuming` : `sandbox ${id} is paused`);
  }
  if (isExpired(s, now)) return refuse(`sandbox ${id} has expired`);
  if (!isReady(s) || !s.status?.podIP)
    return refuse(`sandbox ${id} is not running (phase ${phase ?? "Pending"})`);
  return { kind: "forward", host: s.status.podIP };
}

/** A sandbox route could not be given a target: the front door answers 502 with `message`. */
export class TargetUnavailableError extends Error {
  override readonly name = "TargetUnavailableError";
}

/** Resolves a sandbox id to the pod address to forward to, resuming auto-resume sandboxes. */
export type ResolveTarget = (id: string) => Promise<{ host: string; resumed: boolean }>;

/**
 * Makes the resolver: cache lookup, decision, and for auto-resume sandboxes one `resume` call per
 * sandbox at a time (concurrent first requests share it), then a fresh decision on what it returns.
 * Rejects with TargetUnavailableError (cause kept) when the request must get a 502.
 */
export function createTargetResolver(opts: {
  index: SandboxLookup;
  now: () => Date;
  resume?: (s: Sandbox) => Promise<Sandbox>;
  /** Told once per resume call how it went (requests that share a resume do not repeat it). */
  onResumed?: (id: string, result: "ok" | "error", err?: unknown) => void;
}): ResolveTarget {
  const resuming = new Map<string, Promise<Sandbox>>();
  return async (id) => {
    const cached = opts.index.get(id);
    const first = decideTarget(id, cached, opts.now());
    if (first.kind === "forward") return { host: first.host, resumed: false };
    if (first.kind === "refuse" || !cached) throw new TargetUnavailableError(refusal(first));
    if (!opts.resume) throw new TargetUnavailableError(`sandbox ${id} is paused`);
    let pending = resuming.get(id);
    if (!pending) {
      pending = opts
        .resume(cached)
        .then(
          (s) => (opts.onResumed?.(id, "ok"), s),
          (err: unknown) => {
            opts.onResumed?.(id, "error", err);
            throw err;
          },
        )
        .finally(() => resuming.delete(id));
      resuming.set(id, pending);
    }
    let after: Sandbox;
    try {
      after = await pending;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new TargetUnavailableError(`sandbox ${id} could not be resumed: ${why}`, {
        cause: err,
      });
    }
    const next = decideTarget(id, after, opts.now());
    if (next.kind !== "forward")
      throw new TargetUnavailableError(
        next.kind === "refuse" ? next.message : `sandbox ${id} did not resume`,
      );
    return { host: next.host, resumed: true };
  };
}

function refuse(message: string): TargetDecision {
  return { kind: "refuse", message };
}

function refusal(d: TargetDecision): string {
  return d.kind === "refuse" ? d.message : "sandbox unavailable";
}
