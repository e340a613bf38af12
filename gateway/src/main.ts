/**
 * soulbox-gateway: the main flow.
 * 1. flags → config (gateway/src/config.ts), or the `keys` subcommand (gateway/src/keys-cli.ts);
 * 2. the Sandbox index: an informer cache of gateway-created Sandboxes (gateway/src/sandboxes);
 * 3. the REST API (gateway/src/api/start.ts): E2B's control-plane calls on top of Sandboxes, with
 *    API keys, rate limits and audit lines;
 * 4. the front door (gateway/src/proxy/front-door.ts): HTTP/1.1 + h2c and TLS listeners that send
 *    sandbox traffic (by `E2b-Sandbox-Id` header or `{port}-{id}.{domain}` host) to the pod and
 *    everything else to the REST API;
 * 5. probes and metrics; SIGTERM: stop listening, finish in-flight requests, exit.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import * as k8s from "@kubernetes/client-node";
import { collectDefaultMetrics, Registry } from "prom-client";
import { serveProbes } from "../../lib/probe-server.js";
import { createLogger } from "../../lib/log.js";
import { startApi } from "./api/start.js";
import { ConfigError, USAGE, parseConfig } from "./config.js";
import { KeysCommandError, runKeysCommand } from "./keys-cli.js";
import { startFrontDoor } from "./proxy/front-door.js";
import { startSandboxIndex } from "./sandboxes/sandbox-index.js";

const argv = process.argv.slice(2);
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromDefault();

if (argv[0] === "keys") {
  try {
    await runKeysCommand(argv.slice(1), kubeConfig, process.stdout);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof KeysCommandError)) throw err;
    console.error(`soulbox-gateway keys: ${err.message}`);
    process.exit(2);
  }
}

let config;
try {
  config = parseConfig(argv, process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`soulbox-gateway: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (config === "help") {
  console.log(USAGE);
  process.exit(0);
}
const cfg = config;
const log = createLogger(cfg.logLevel, { component: "soulbox-gateway" });
const registry = new Registry();
collectDefaultMetrics({ register: registry });

let tls: { cert: Buffer; key: Buffer } | undefined;
if (cfg.tlsCertFile && cfg.tlsKeyFile) {
  try {
    tls = { cert: readFileSync(cfg.tlsCertFile), key: readFileSync(cfg.tlsKeyFile) };
  } catch (err) {
    console.error(`soulbox-gateway: cannot read the TLS certificate or key: ${String(err)}`);
    process.exit(2);
  }
}

const index = startSandboxIndex({ kubeConfig, log });
const api = await startApi({ kubeConfig, index, config: cfg, log, registry, sampleMetrics: true });
const front = await startFrontDoor({
  host: cfg.host,
  httpPort: cfg.httpPort,
  httpsPort: tls ? cfg.httpsPort : undefined,
  tls,
  domain: cfg.domain,
  index,
  apiHandler: api.handler,
  resume: (s) => api.resume(s),
  log,
  registry,
});
log.info("gateway listening", {
  http: front.http.port,
  https: front.https?.port,
  domain: cfg.domain,
});
// A mounted Secret (cert-manager renews it) changes under the gateway: new connections get the new
// certificate without a restart. Polled, because the kubelet swaps the files through a symlink.
const tlsFiles = cfg.tlsCertFile && cfg.tlsKeyFile ? [cfg.tlsCertFile, cfg.tlsKeyFile] : [];
const reloadTls = () => {
  try {
    front.setTls({ cert: readFileSync(tlsFiles[0] ?? ""), key: readFileSync(tlsFiles[1] ?? "") });
    log.info("TLS certificate reloaded", { file: tlsFiles[0] });
  } catch (err) {
    log.warn("the TLS certificate changed but could not be loaded; keeping the old one", {
      error: err,
    });
  }
};
if (tlsFiles[0]) watchFile(tlsFiles[0], { interval: 10_000, persistent: false }, reloadTls);

const probes: Server | undefined =
  cfg.healthPort > 0
    ? await serveProbes(cfg.healthPort, {
        probes: { healthy: () => true, ready: () => index.isSynced && api.ready() },
        metrics: registry,
      })
    : undefined;

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("stopping", { signal });
  if (tlsFiles[0]) unwatchFile(tlsFiles[0]);
  await front.close();
  await api.stop();
  await index.stop();
  probes?.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
