/**
 * What the gateway reads off a cached Sandbox: pure functions, so the REST API and the proxy agree on
 * what "running", "paused" and "expired" mean.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Annotation } from "../../../api/labels.js";

/** The two states E2B's API knows. */
export type E2bState = "running" | "paused";

/** The envd port and version every sandbox has (api/). */
export { ENVD_PORT, ENVD_VERSION } from "../../../api/envd.js";

/** `paused` while the sandbox is paused or on its way there; `running` otherwise. */
export function e2bState(s: Sandbox): E2bState {
  const phase = s.status?.phase;
  if (phase === "Paused" || phase === "Pausing") return "paused";
  if (s.spec.state === "Paused" && phase !== "Resuming") return "paused";
  return "running";
}

/** When the sandbox's timeout acts (the api/ verdict: strict RFC 3339, the operator's rule). */
export {
  deadlineOf as expiresAt,
  isPastDeadline as isExpired,
  isReady,
} from "../../../api/verdicts.js";

/** True when the sandbox asked to be resumed by the first request that reaches it. */
export function autoResumes(s: Sandbox): boolean {
  return s.metadata.annotations?.[Annotation.autoResume] === "true";
}
