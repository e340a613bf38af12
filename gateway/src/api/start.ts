/**
 * The REST API's entry point for the gateway: watches the API keys, builds the express app and
 * offers `resume` to the proxy (auto-resume of paused sandboxes on their first request).
 */
import type * as k8s from "@kubernetes/client-node";
import type express from "express";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import type { Logger } from "../../../lib/log.js";
import { createAuditLog } from "../audit.js";
import { startKeyStore } from "../auth/key-store.js";
import { createRateLimiter } from "../auth/rate-limit.js";
import type { SandboxIndex } from "../sandboxes/sandbox-index.js";
import { e2bState } from "../sandboxes/sandbox-state.js";
import { createApiApp } from "./app.js";
import { createTokenReader, type ApiConfig, type ApiContext } from "./context.js";
import { createKubeCalls } from "./kube.js";
import { resumeSandbox } from "./lifecycle.js";
import { createSnapshotCalls } from "./snapshots-store.js";
import { readMetrics } from "./metrics.js";
import { startMetricsHistory } from "./metrics-history.js";
import type { Registry } from "prom-client";
import { withApiMetrics } from "../api-metrics.js";
import { parseVolumeSettings } from "../volumes/settings.js";
import { createVolumeService } from "../volumes/volume-service.js";

/** What {@link startApi} needs; `config` may be the whole `GatewayConfig`. */
export interface ApiOptions {
  kubeConfig: k8s.KubeConfig;
  index: SandboxIndex;
  config: ApiConfig;
  log: Logger;
  /** Where the API's request metrics register; none when absent. */
  registry?: Registry;
  /** Keep every sandbox's metrics history (a sample every 5 s) for `getMetrics({start, end})`. */
  sampleMetrics?: boolean;
}

/** The running API. */
export interface Api {
  /** The express app; mount it on the plain HTTP port (and the API host over TLS). */
  handler: express.Express;
  /**
   * Resumes a paused sandbox (deadline at least the default timeout from now) and resolves once
   * envd answers; a running one is returned as it is. Concurrent calls for one sandbox share one
   * resume. Rejects with an ApiError (404 gone, 504 not resumed in time).
   */
  resume(s: Sandbox): Promise<Sandbox>;
  /** True once the API keys (and the sandbox cache) have been read. */
  ready(): boolean;
  /** Stops the key watch and closes the audit log. */
  stop(): Promise<void>;
}

/** Starts the API; resolves once the API keys were read the first time. */
export async function startApi(opts: ApiOptions): Promise<Api> {
  const log = opts.log.with({ component: "api" });
  const kube = createKubeCalls(opts.kubeConfig);
  const keys = startKeyStore({
    kubeConfig: opts.kubeConfig,
    namespace: opts.config.namespace,
    secretName: opts.config.apiKeysSecret,
    log,
  });
  const auditLog = createAuditLog(opts.config.auditLog);
  const audit = opts.registry ? withApiMetrics(auditLog, opts.registry) : auditLog;
  const ctx: ApiContext = {
    kube,
    index: opts.index,
    config: opts.config,
    log,
    volumes: createVolumeService(
      opts.kubeConfig,
      kube,
      opts.config.volumes ?? parseVolumeSettings({}),
    ),
    snapshots: createSnapshotCalls(opts.kubeConfig),
    token: createTokenReader(kube),
  };
  if (opts.sampleMetrics)
    ctx.metricsHistory = startMetricsHistory({
      all: () => opts.index.all(),
      read: (s) => readMetrics(ctx, s),
      log,
    });
  const handler = createApiApp({
    ctx,
    keys,
    limiter: createRateLimiter(opts.config.rateLimit, opts.config.rateBurst),
    audit,
  });
  await keys.synced;

  const resuming = new Map<string, Promise<Sandbox>>();
  return {
    handler,
    resume(s) {
      if (e2bState(s) === "running") return Promise.resolve(s);
      const key = s.metadata.uid ?? `${s.metadata.namespace}/${s.metadata.name}`;
      const inFlight = resuming.get(key);
      if (inFlight) return inFlight;
      const p = resumeSandbox(ctx, s, opts.config.defaultTimeoutSeconds, "extend").finally(() =>
        resuming.delete(key),
      );
      resuming.set(key, p);
      return p;
    },
    ready: () => keys.isSynced && opts.index.isSynced,
    async stop() {
      ctx.metricsHistory?.stop();
      await keys.stop();
      await audit.close();
    },
  };
}
