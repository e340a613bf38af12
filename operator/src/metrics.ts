import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The operator's Prometheus metrics, on a registry of its own. */
export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<"kind" | "result">;
  reconcileErrors: Counter<"kind">;
  reconcileDuration: Histogram<"kind">;
  sandboxesByPhase: Gauge<"phase">;
  timeToReady: Histogram;
  queueDepth: Gauge<"kind">;
  childRepairs: Counter<"kind">;
  poolClaims: Counter<"pool" | "result">;
  poolClaimSeconds: Histogram<"pool">;
  poolPods: Gauge<"pool" | "state">;
  poolTarget: Gauge<"pool">;
}

/** Creates the metrics (names prefixed `soulbox_`). */
export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "soulbox_operator_" });
  return {
    registry,
    reconciles: new Counter({
      name: "soulbox_reconcile_total",
      help: "Reconciles by kind and result (success, error, requeue).",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: "soulbox_reconcile_errors_total",
      help: "Reconciles that failed and will be retried, by kind.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "soulbox_reconcile_duration_seconds",
      help: "Time one reconcile took, by kind.",
      labelNames: ["kind"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    sandboxesByPhase: new Gauge({
      name: "soulbox_sandboxes",
      help: "Sandboxes by status.phase.",
      labelNames: ["phase"],
      registers: [registry],
    }),
    timeToReady: new Histogram({
      name: "soulbox_sandbox_ready_seconds",
      help: "Time from a Sandbox's creation to its Ready condition turning True.",
      buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "soulbox_workqueue_depth",
      help: "Keys waiting in the work queue, by kind.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    childRepairs: new Counter({
      name: "soulbox_child_repairs_total",
      help: "Owned children (by kind) found differing from their desired state (a hand edit, an upgrade) and put back.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    poolClaims: new Counter({
      name: "soulbox_pool_claims_total",
      help: "Sandboxes that asked a SandboxPool for a pod, by pool (namespace/name) and result: hit (took a ready pod) or miss (none ready: a cold start).",
      labelNames: ["pool", "result"],
      registers: [registry],
    }),
    poolClaimSeconds: new Histogram({
      name: "soulbox_pool_claim_seconds",
      help: "Time from a Sandbox's creation to envd in the pool pod it took holding its identity (the warm start's latency in the operator), by pool.",
      labelNames: ["pool"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    poolPods: new Gauge({
      name: "soulbox_pool_pods",
      help: "A SandboxPool's untaken pods by state: ready, or starting.",
      labelNames: ["pool", "state"],
      registers: [registry],
    }),
    poolTarget: new Gauge({
      name: "soulbox_pool_target",
      help: "How many ready pods a SandboxPool keeps now (minReady raised by recent demand).",
      labelNames: ["pool"],
      registers: [registry],
    }),
  };
}
