/**
 * Sandbox state changes as merge patches on the Sandbox (the operator carries them out) and
 * waits on the SandboxIndex until the operator reports them: pause, resume, deadline changes,
 * delete. The proxy uses {@link resumeSandbox} to wake auto-resuming sandboxes.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Annotation } from "../../../api/labels.js";
import { WaitTimeoutError, type SandboxIndex } from "../sandboxes/sandbox-index.js";
import { pauseRefusal } from "../../../api/verdicts.js";
import {
  PausedReason,
  SandboxConditionType,
  findCondition,
  type Condition,
} from "../../../api/conditions.js";
import { e2bState, expiresAt, isReady } from "../sandboxes/sandbox-state.js";
import { ApiError, badRequest, conflict, sandboxNotFound } from "./errors.js";
import type { MemoryPause } from "../config.js";
import type { KubeCalls } from "./kube.js";
import { extendedTtl, formatDeadline, ttlFromNow } from "./ttl.js";

/** What the lifecycle calls need. */
export interface LifecycleDeps {
  kube: KubeCalls;
  index: SandboxIndex;
}

/** How long pause and resume wait for the operator. */
export const STATE_CHANGE_TIMEOUT_MS = 60_000;
/** How long a write waits to show up in the cache before answering anyway. */
const SEEN_TIMEOUT_MS = 5_000;

const nameOf = (s: Sandbox) => s.metadata.name ?? "";
const nsOf = (s: Sandbox) => s.metadata.namespace ?? "";

/**
 * Waits until the cache holds `written` or something newer, so that a read right after a write
 * sees it (a client that sets a timeout and then reads the info must see the new end). Gives up
 * quietly after a few seconds: the write happened either way.
 */
async function waitSeen(index: SandboxIndex, written: Sandbox): Promise<void> {
  const rv = Number(written.metadata.resourceVersion);
  await index
    .waitFor(
      nameOf(written),
      (s) =>
        !s ||
        s.metadata.uid !== written.metadata.uid ||
        s.metadata.resourceVersion === written.metadata.resourceVersion ||
        (Number.isFinite(rv) && Number(s.metadata.resourceVersion) > rv),
      SEEN_TIMEOUT_MS,
    )
    .catch(() => undefined);
}

/** Maps a failed patch: a sandbox deleted meanwhile is a 404. */
function patchFailed(s: Sandbox, err: unknown): never {
  if ((err as { code?: unknown }).code === 404) throw sandboxNotFound(nameOf(s));
  throw err;
}

/** Sets the sandbox's deadline to `at` (up or down). */
export async function setDeadline(deps: LifecycleDeps, s: Sandbox, at: Date): Promise<Sandbox> {
  const written = await deps.kube
    .patchSandbox(nsOf(s), nameOf(s), {
      metadata: { annotations: { [Annotation.expiresAt]: formatDeadline(at) } },
    })
    .catch((err: unknown) => patchFailed(s, err));
  await waitSeen(deps.index, written);
  return written;
}

/** Moves the deadline to `seconds` from now unless it is already later; no write when it is. */
export async function extendDeadline(
  deps: LifecycleDeps,
  s: Sandbox,
  seconds: number,
  now = new Date(),
): Promise<Sandbox> {
  const current = expiresAt(s);
  const wanted = extendedTtl(current, now, seconds);
  if (current && wanted.getTime() === current.getTime()) return s;
  return setDeadline(deps, s, wanted);
}

/**
 * How an E2B pause maps onto `spec.pauseMode`: memory kept (E2B's default) is the gateway's
 * `--memory-pause`, `Freeze` (the processes stopped in place) or `Memory` (a CRIU checkpoint in
 * a Snapshot, the pod deleted); `memory: false` is `Filesystem`, the files saved to a Snapshot
 * and the pod deleted (processes restart on resume).
 */
export type PauseMode = "Freeze" | "Filesystem" | "Memory";

/**
 * E2B's `memory` of a pause as a {@link PauseMode}: absent or true keeps memory the way
 * `memoryPause` says. Pure.
 */
export function pauseModeOf(memory: unknown, memoryPause: MemoryPause = "Freeze"): PauseMode {
  if (memory === undefined || memory === null) return memoryPause;
  if (typeof memory !== "boolean") throw badRequest("memory must be true or false");
  return memory ? memoryPause : "Filesystem";
}

/** What a pause request does to `s`. Pure. */
export type PausePlan = { act: "patch" } | { act: "wait" } | { act: "refuse"; error: ApiError };

/**
 * Decides a pause: a running sandbox is patched; one already on its way to the same pause is
 * waited for (pausing twice is idempotent); a paused one, or one pausing in another mode, is a
 * 409 (the SDK reads a 409 as "already paused").
 */
export function pausePlan(s: Sandbox, mode: PauseMode): PausePlan {
  const id = nameOf(s);
  // A timeout pause (onTimeout: Pause) leaves spec.state Running: the phase says it is paused.
  if (s.status?.phase === "Paused")
    return {
      act: "refuse",
      error: conflict(`Error pausing sandbox - sandbox '${id}' is already paused`),
    };
  if (s.spec.state !== "Paused" && s.status?.phase !== "Pausing") return { act: "patch" };
  const current = s.spec.pauseMode ?? "Freeze";
  if (current === mode) return { act: "wait" };
  return {
    act: "refuse",
    error: conflict(
      `Sandbox '${id}' is being paused with pauseMode ${current}; it cannot be paused with ${mode} until it is resumed`,
    ),
  };
}

/**
 * Pauses a sandbox in `mode` and waits for phase Paused (a Filesystem pause waits for its
 * snapshot). A pause the operator refuses (the mode is not available) is taken back, so the
 * sandbox runs on as before, and answered with a 409 naming why.
 */
export async function pauseSandbox(
  deps: LifecycleDeps,
  s: Sandbox,
  mode: PauseMode = "Freeze",
  timeoutMs = STATE_CHANGE_TIMEOUT_MS,
): Promise<Sandbox> {
  const plan = pausePlan(s, mode);
  if (plan.act === "refuse") throw plan.error;
  let generation = s.metadata.generation;
  if (plan.act === "patch") {
    const written = await deps.kube
      .patchSandbox(nsOf(s), nameOf(s), { spec: { state: "Paused", pauseMode: mode } })
      .catch((err: unknown) => patchFailed(s, err));
    generation = written.metadata.generation;
  }
  try {
    return await waitState(deps, s, timeoutMs, "paused", (x) => {
      if (x.status?.phase === "Paused") return true;
      const refused = pauseRefusal(x);
      if (refused) throw conflict(`sandbox '${nameOf(s)}' cannot be paused: ${refused.message}`);
      const failed = pauseFailure(x, generation);
      if (failed) throw new ApiError(500, `Error pausing sandbox: ${failed.message}`);
      return false;
    });
  } catch (err) {
    // Refused or failed: the sandbox runs on (the operator thawed it); take the ask back, so it
    // is not paused later behind the caller's back and a new pause starts afresh.
    const undo = err instanceof ApiError && (err.status === 409 || err.status === 500);
    if (undo && plan.act === "patch")
      await deps.kube
        .patchSandbox(nsOf(s), nameOf(s), { spec: { state: "Running" } })
        .catch(() => undefined); // gone meanwhile: nothing to take back
    throw err;
  }
}

/**
 * The Paused condition of a Filesystem pause whose Snapshot failed (storage down, no node agent),
 * observed for `generation` or later (an older one is a failure of an earlier pause). Pure.
 */
export function pauseFailure(s: Sandbox, generation: number | undefined): Condition | undefined {
  const c = findCondition(s.status?.conditions, SandboxConditionType.Paused);
  if (c?.reason !== PausedReason.SnapshotFailed) return undefined;
  if (generation !== undefined && (c.observedGeneration ?? 0) < generation) return undefined;
  return c;
}

/**
 * Resumes a paused sandbox: `spec.state: Running` and a deadline at least `timeoutSeconds` from
 * now (a sandbox paused by its timeout would pause again at once otherwise), then waits until
 * envd answers. `mode` "set" puts the deadline exactly there (E2B resume), "extend" only moves
 * it later (connect, auto-resume). 409 when the sandbox is running.
 */
export async function resumeSandbox(
  deps: LifecycleDeps,
  s: Sandbox,
  timeoutSeconds: number,
  mode: "set" | "extend" = "extend",
  timeoutMs = STATE_CHANGE_TIMEOUT_MS,
): Promise<Sandbox> {
  if (e2bState(s) === "running") throw conflict(`sandbox '${nameOf(s)}' is already running`);
  const now = new Date();
  const at =
    mode === "set"
      ? ttlFromNow(now, timeoutSeconds)
      : extendedTtl(expiresAt(s), now, timeoutSeconds);
  await deps.kube
    .patchSandbox(nsOf(s), nameOf(s), {
      metadata: { annotations: { [Annotation.expiresAt]: formatDeadline(at) } },
      spec: { state: "Running" },
    })
    .catch((err: unknown) => patchFailed(s, err));
  return waitState(deps, s, timeoutMs, "running", (x) => isReady(x) && e2bState(x) === "running");
}

/** Deletes a sandbox and waits until the cache no longer shows it (so reads after see a 404). */
export async function deleteSandbox(deps: LifecycleDeps, s: Sandbox): Promise<void> {
  const existed = await deps.kube.deleteSandbox(nsOf(s), nameOf(s));
  if (!existed) throw sandboxNotFound(nameOf(s));
  await deps.index
    .waitFor(
      nameOf(s),
      (x) => !x || x.metadata.uid !== s.metadata.uid || !!x.metadata.deletionTimestamp,
      SEEN_TIMEOUT_MS,
    )
    .catch(() => undefined);
}

async function waitState(
  deps: LifecycleDeps,
  s: Sandbox,
  timeoutMs: number,
  what: string,
  done: (x: Sandbox) => boolean,
): Promise<Sandbox> {
  let refusal: unknown;
  try {
    const x = await deps.index.waitFor(
      nameOf(s),
      (x) => {
        if (!x || x.metadata.uid !== s.metadata.uid || x.metadata.deletionTimestamp) return true;
        try {
          return done(x);
        } catch (err) {
          refusal = err;
          return true;
        }
      },
      timeoutMs,
    );
    if (refusal) throw refusal;
    if (!x || x.metadata.uid !== s.metadata.uid || x.metadata.deletionTimestamp)
      throw sandboxNotFound(nameOf(s));
    return x;
  } catch (err) {
    if (err instanceof WaitTimeoutError)
      throw new ApiError(
        504,
        `sandbox '${nameOf(s)}' did not become ${what} within ${Math.round(timeoutMs / 1000)} s`,
        { cause: err },
      );
    throw err;
  }
}
