/**
 * The operator as the gateway's e2e tests use it: its Sandbox controller running in the test
 * process, and the operator's test helpers (CRDs, typed Sandbox calls, the node's images). The
 * one place where e2e/gateway reaches into operator/; gateway/src never does.
 */
import {
  startSandboxController,
  type SandboxController,
  type SandboxControllerOptions,
} from "../../operator/src/controller/sandbox-controller.js";
import { createOperatorMetrics } from "../../operator/src/metrics.js";

export { IMAGES, installCrds, sandboxApi } from "../../operator/test-support/operator.js";
export type { SandboxController };

/** Starts the Sandbox controller (with metrics of its own); `stop()` ends it. */
export function startInProcessOperator(
  options: Omit<SandboxControllerOptions, "metrics">,
): SandboxController {
  return startSandboxController({ ...options, metrics: createOperatorMetrics() });
}
