/**
 * Verdicts on a Sandbox that more than one component needs. Each rule has one owner: the
 * operator decides in `status` (phase and conditions) and everyone else reads that decision
 * here, so the gateway and the operator can never disagree on what "ready", "terminal" or
 * "expired" mean.
 */
import {
  PausedReason,
  SandboxConditionType,
  findCondition,
  isConditionTrue,
  type Condition,
} from "./conditions.js";
import { expiresAt, parseRfc3339 } from "./expiry.js";
import type { Sandbox } from "./gen/crd-types.js";

export { expiresAt } from "./expiry.js";

/**
 * True when the sandbox will not run again without a change to it: the operator set phase
 * `Failed` (a pod that ended, an image that can never be pulled, a template that cannot be
 * used). Kubelet reasons that may clear up on their own (`ErrImagePull`, `ImagePullBackOff`,
 * `CrashLoopBackOff`) leave the phase at `Starting`: they are not terminal.
 */
export function isTerminal(sb: Sandbox): boolean {
  return sb.status?.phase === "Failed";
}

/** True when envd in the sandbox answers: phase Running, Ready=True, a pod IP, not being deleted. */
export function isReady(sb: Sandbox): boolean {
  if (sb.status?.phase !== "Running" || !sb.status.podIP) return false;
  if (sb.metadata.deletionTimestamp) return false;
  return isConditionTrue(sb.status.conditions, SandboxConditionType.Ready);
}

/**
 * The sandbox's deadline as a Date, or undefined when it has none: {@link expiresAt} (a valid
 * expires-at annotation, which the gateway moves before the operator has seen the change, else
 * `startedAt + timeoutSeconds`), else the deadline the operator wrote in `status.expiresAt`. An
 * annotation that is not strict RFC 3339 (`2026-02-30T10:00:00Z`) is ignored, as the operator
 * ignores it.
 */
export function deadlineOf(sb: Sandbox): Date | undefined {
  return parseRfc3339(expiresAt(sb, sb.status?.startedAt) ?? sb.status?.expiresAt);
}

/** True once the sandbox's deadline has passed (a paused-on-timeout sandbox is expired but kept). */
export function isPastDeadline(sb: Sandbox, now: Date): boolean {
  const at = deadlineOf(sb);
  return at !== undefined && at.getTime() <= now.getTime();
}

/**
 * The `Paused` condition when the operator refused the pause that was asked (a `pauseMode` it
 * cannot carry out), else undefined. Its message says why, for people.
 */
export function pauseRefusal(sb: Sandbox): Condition | undefined {
  const paused = findCondition(sb.status?.conditions, SandboxConditionType.Paused);
  return paused?.reason === PausedReason.PauseModeNotSupported ? paused : undefined;
}

/** The `Ready` condition: while a sandbox starts, its reason and message say what it waits for. */
export function readyCondition(sb: Sandbox): Condition | undefined {
  return findCondition(sb.status?.conditions, SandboxConditionType.Ready);
}
