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
  /** Change notifications (the proxy cuts a deleted sandbox's streams); absent in some tests. */
  subscribe?(listener: (id: string, s: Sandbox | undefined) => void): () => void;
}

/** What to do with a request for one sandbox, decided from the cached object alone. */
export type TargetDecision =
  | { kind: "forward"; host: string }
  | { kind: "resume" }
  | { kind: "refuse"; message: string; notFound?: true };

/**
 * E2B's proxy message for a sandbox that does not exist (any more): the SDKs read "was not found"
 * in a 502 as "the sandbox is not running" (Python's `is_running()` is False only then).
 */
export const SANDBOX_NOT_FOUND_MESSAGE = "The sandbox was not found";

/**
 * Decides from a cached Sandbox: forward to its pod IP, resume it first (paused with auto-resume),
 * or refuse with a message for the 502 body. Order matters: a sandbox paused by its timeout is
 * also expired, and auto-resume wins over that (resuming extends the timeout). Pure.
 */
export function decideTarget(id: string, s: Sandbox | undefined, now: Date): TargetDecision {
  if (!s || s.metadata.deletionTimestamp) return notFound();
  const phase = s.status?.phase;
  if (phase === "Failed") return refuse(`sandbox ${id} has failed`);
  if (e2bState(s) === "paused" || phase === "Resuming") {
    if (autoResumes(s)) return { kind: "resume" };
    return refuse(phase === "Resuming" ? `sandbox ${id} is resuming` : `sandbox ${id} is paused`);
  }
  // Past its deadline a sandbox is as good as deleted (the operator is about to): E2B's not found.
  if (isExpired(s, now)) return notFound();
  if (!isReady(s) || !s.status?.podIP)
    return refuse(`sandbox ${id} is not running (phase ${phase ?? "Pending"})`);
  return { kind: "forward", host: s.status.podIP };
}

/**
 * A sandbox route could not be given a target: the front door answers 502 with `message`, and
 * with `sandboxId` in the body when the sandbox does not exist (E2B's not-found answer).
 */
export class TargetUnavailableError extends Error {
  override readonly name = "TargetUnavailableError";
  constructor(message: string, options?: ErrorOptions & { notFoundId?: string }) {
    super(message, options);
    this.notFoundId = options?.notFoundId;
  }
  /** The sandbox id, when the sandbox does not exist. */
  readonly notFoundId: string | undefined;
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
    if (first.kind === "refuse" || !cached) throw unavailable(id, first);
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
    if (next.kind === "refuse") throw unavailable(id, next);
    if (next.kind !== "forward") throw new TargetUnavailableError(`sandbox ${id} did not resume`);
    return { host: next.host, resumed: true };
  };
}

function refuse(message: string): TargetDecision {
  return { kind: "refuse", message };
}

function notFound(): TargetDecision {
  return { kind: "refuse", message: SANDBOX_NOT_FOUND_MESSAGE, notFound: true };
}

function unavailable(id: string, d: TargetDecision): TargetUnavailableError {
  if (d.kind !== "refuse") return new TargetUnavailableError("sandbox unavailable");
  return new TargetUnavailableError(d.message, d.notFound ? { notFoundId: id } : undefined);
}
