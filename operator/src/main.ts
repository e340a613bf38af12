/**
 * soulbox-operator: the main flow.
 * 1. flags → config (operator/src/config.ts); 2. probes and metrics servers;
 * 3. leader election on a Lease (optional); 4. while leading, the Sandbox
 * controller (operator/src/controller/sandbox-controller.ts) reconciles;
 * 5. SIGTERM: stop reconciling, release the Lease, exit.
 */
import type { Server } from "node:http";
import { hostname } from "node:os";
import * as k8s from "@kubernetes/client-node";
import { ConfigError, USAGE, parseConfig } from "./config.js";
import { startSandboxController, type SandboxController } from "./controller/sandbox-controller.js";
import { startLeaderElection, type LeaderElector } from "./leader-election.js";
import { createLogger } from "../../lib/log.js";
import { createOperatorMetrics } from "./metrics.js";
import { serveProbes } from "../../lib/probe-server.js";
import { readFile } from "node:fs/promises";
import { storageFromEnvironment } from "../../lib/storage/index.js";
import { createNodeAgentClient } from "./controller/node-agent-client.js";

let config;
try {
  config = parseConfig(process.argv.slice(2), process.env, hostname());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`soulbox-operator: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (config === "help") {
  console.log(USAGE);
  process.exit(0);
}
const cfg = config;
const log = createLogger(cfg.logLevel, { component: "soulbox-operator", replica: cfg.identity });
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromDefault();
const metrics = createOperatorMetrics();
// Snapshots: the object store their objects are deleted from, and the node agents that take them.
const store = await storageFromEnvironment();
const agentToken = cfg.nodeAgentTokenFile
  ? (await readFile(cfg.nodeAgentTokenFile, "utf8")).trim()
  : undefined;
const agentCa = cfg.nodeAgentCaFile ? await readFile(cfg.nodeAgentCaFile) : undefined;
const agent = agentToken
  ? createNodeAgentClient({
      port: cfg.nodeAgentPort,
      token: agentToken,
      ...(agentCa ? { ca: agentCa } : {}),
    })
  : undefined;

let controller: SandboxController | undefined;
let elector: LeaderElector | undefined;
let healthy = true;
const servers: Server[] = [];

const startController = () => {
  if (controller) return;
  log.info("starting the Sandbox controller", { namespace: cfg.watchNamespace ?? "(all)" });
  controller = startSandboxController({
    kubeConfig,
    log,
    metrics,
    namespace: cfg.watchNamespace,
    workers: cfg.workers,
    ...(cfg.gpus ? { gpus: true } : {}),
    ...(agent ? { agent } : {}),
    ...(store ? { store } : {}),
    settings: {
      envdImage: cfg.envdImage,
      defaultRuntimeClassName: cfg.defaultRuntimeClassName,
      kitVolume: cfg.kitVolume,
    },
  });
  controller.synced.then(
    () => log.info("caches synced"),
    () => undefined,
  );
};

try {
  if (cfg.healthPort > 0)
    servers.push(
      await serveProbes(cfg.healthPort, {
        probes: {
          healthy: () => healthy,
          // A standby is ready: it has nothing to sync until it leads.
          ready: () => (cfg.leaderElect && !elector?.isLeader) || (controller?.isSynced ?? false),
        },
        metrics: cfg.metricsPort === cfg.healthPort ? metrics.registry : undefined,
      }),
    );
  if (cfg.metricsPort > 0 && cfg.metricsPort !== cfg.healthPort)
    servers.push(await serveProbes(cfg.metricsPort, { metrics: metrics.registry }));
} catch (err) {
  log.error("cannot listen", {
    error: err,
    healthPort: cfg.healthPort,
    metricsPort: cfg.metricsPort,
  });
  process.exit(1);
}

if (cfg.leaderElect) {
  elector = startLeaderElection({
    kubeConfig,
    namespace: cfg.leaseNamespace,
    name: cfg.leaseName,
    identity: cfg.identity,
    onStartedLeading: () => {
      log.info("became the leader", { lease: `${cfg.leaseNamespace}/${cfg.leaseName}` });
      startController();
    },
    onStoppedLeading: () => {
      // client-go exits here too: a replica that lost the lease may hold stale
      // state; restarting is the one safe way back to standby.
      log.error("lost the lease; exiting so a fresh replica takes over");
      healthy = false;
      void shutdown(1);
    },
    onError: (err) => log.warn("leader election", { error: err }),
  });
} else startController();

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log.info("stopping");
  await controller?.stop().catch(() => undefined);
  await elector?.stop().catch(() => undefined);
  for (const s of servers) s.close();
  process.exit(code);
}
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));
