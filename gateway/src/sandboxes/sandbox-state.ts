/**
 * What the gateway reads off a cached Sandbox: pure functions, so the REST API and the proxy agree on
 * what "running", "paused" and "expired" mean.
 */
import type { Sandbox } from "../../../operator/src/gen/crd-types.js";
import { Annotation } from "../../../operator/src/labels.js";

/** The two states E2B's API knows. */
export type E2bState = "running" | "paused";

/** On a Sandbox the gateway created with `autoResume`: the first request to it resumes it. */
export const ANNOTATION_AUTO_RESUME = "soulbox.dev/auto-resume";
/** The port envd serves on in every sandbox pod (the operator's constant). */
export { ENVD_PORT } from "../../../operator/src/sandbox/settings.js";
/** The envd version SoulBox's envd reports (the SDK gates features on it). */
export { ENVD_VERSION } from "../../../envd/src/version.js";

/** `paused` while the sandbox is paused or on its way there; `running` otherwise. */
export function e2bState(s: Sandbox): E2bState {
  const phase = s.status?.phase;
  if (phase === "Paused" || phase === "Pausing") return "paused";
  if (s.spec.state === "Paused" && phase !== "Resuming") return "paused";
  return "running";
}

/**
 * When the sandbox's timeout acts: the gateway's annotation (it moves with `/timeout` and `/connect`
 * before the operator has seen the change), else what the operator computed.
 */
export function expiresAt(s: Sandbox): Date | undefined {
  const raw = s.metadata.annotations?.[Annotation.expiresAt] ?? s.status?.expiresAt;
  if (!raw) return undefined;
  const t = new Date(raw);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/** True once the sandbox's timeout has passed (a paused-on-timeout sandbox is expired but kept). */
export function isExpired(s: Sandbox, now: Date): boolean {
  const at = expiresAt(s);
  return at !== undefined && at.getTime() <= now.getTime();
}

/** True when envd in the sandbox answers: phase Running, Ready=True, and a pod IP to send traffic to. */
export function isReady(s: Sandbox): boolean {
  if (s.status?.phase !== "Running" || !s.status.podIP) return false;
  if (s.metadata.deletionTimestamp) return false;
  return s.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** True when the sandbox asked to be resumed by the first request that reaches it. */
export function autoResumes(s: Sandbox): boolean {
  return s.metadata.annotations?.[ANNOTATION_AUTO_RESUME] === "true";
}
