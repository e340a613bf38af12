/** One metrics sample of a sandbox, read from its envd's `GET /metrics` with its token. */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { isReady } from "../sandboxes/sandbox-state.js";
import type { ApiContext } from "./context.js";
import { toE2bMetric, type E2bMetric, type EnvdMetrics } from "./e2b-json.js";
import { ApiError } from "./errors.js";

/** How long envd gets to answer. */
const METRICS_TIMEOUT_MS = 5_000;

/**
 * The sandbox's current metrics, or undefined when it is not running (a paused or starting
 * sandbox has no sample to give). A running sandbox whose envd does not answer is a 502.
 */
export async function readMetrics(ctx: ApiContext, s: Sandbox): Promise<E2bMetric | undefined> {
  const endpoint = s.status?.envdEndpoint;
  if (!isReady(s) || !endpoint) return undefined;
  const token = await ctx.token(s);
  let res: Response;
  try {
    res = await fetch(`${endpoint}/metrics`, {
      headers: { "x-access-token": token },
      signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiError(502, `sandbox '${s.metadata.name}' did not answer for metrics`, {
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ApiError(502, `sandbox '${s.metadata.name}' answered ${res.status} for metrics`);
  }
  return toE2bMetric((await res.json()) as EnvdMetrics);
}
