import {
  NODE_AGENT_PORT,
  NODE_AGENT_TLS_NAME,
  NODE_AGENT_TOKEN_FILE_ENV,
} from "../../api/node-agent.js";
import {
  ConfigError,
  DNS_LABEL,
  logLevelFlag,
  parseFlags,
  type LogLevel,
} from "../../lib/flags.js";

import { KIT_VOLUMES, type KitVolume } from "./sandbox/settings.js";

export { ConfigError, LOG_LEVELS, type LogLevel } from "../../lib/flags.js";

/** Usage text for `operator --help`. */
export const USAGE = `soulbox-operator: reconciles soulbox.dev Sandboxes into sandbox pods.

Usage: node dist/operator.mjs [options]

  --leader-elect                 campaign for the Lease before reconciling (run several replicas)
  --lease-namespace <ns>         namespace of the Lease (default: POD_NAMESPACE, else 'default')
  --lease-name <name>            name of the Lease (default soulbox-operator)
  --watch-namespace <ns>         reconcile Sandboxes of this namespace only (default: all)
  --envd-image <image>           the envd sidecar image (default localhost/soulbox/envd:latest)
  --default-runtime-class <name> RuntimeClass of sandbox pods whose template names none (default kata)
  --kit-volume image|copy        how sandbox containers get the executor kit: mounted read-only from
                                 the envd image (a Kubernetes image volume; needs the ImageVolume
                                 feature, on by default from 1.35) or copied per pod (default copy)
  --metrics-port <n>             serve Prometheus metrics on GET /metrics (default 8080; 0 = off)
  --health-port <n>              serve GET /healthz and GET /readyz (default 8081; 0 = off)
  --workers <n>                  sandboxes reconciled in parallel (default 8)
  --gpus                         reconcile GpuAllocations and give Sandboxes with spec.gpu their GPUs
                                 (needs read access to Nodes, for the device plugins' inventories)
  --node-agent-port <n>          the port of the node agents (Snapshots; default ${NODE_AGENT_PORT})
  --node-agent-ca <file>         the CA (PEM) of the node agents' serving certificate, which must
                                 name ${NODE_AGENT_TLS_NAME}: calls go over HTTPS (default: HTTP)
  --log-level <level>            debug, info, warn or error (default info)
  --help                         show this text

The cluster comes from KUBECONFIG or the in-cluster service account.
POD_NAME names this replica in the Lease (default: the host name).
${NODE_AGENT_TOKEN_FILE_ENV} names the node agents' bearer-token file (without it, Snapshots and
Filesystem pauses fail with a clear condition); SOULBOX_STORAGE_* name the object store.`;

/** The operator's settings, from flags and environment. */
export interface OperatorConfig {
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  watchNamespace?: string;
  envdImage: string;
  defaultRuntimeClassName: string;
  kitVolume: KitVolume;
  metricsPort: number;
  healthPort: number;
  workers: number;
  logLevel: LogLevel;
  /** Run the GpuAllocation controller (`--gpus`); absent: spec.gpu is only a GPU limit. */
  gpus?: true;
  /** Where the node agents listen (their host network). */
  nodeAgentPort: number;
  /** The node agents' bearer-token file; absent: no node agent calls. */
  nodeAgentTokenFile?: string;
  /** The CA (PEM file) of the node agents' serving certificate: with it, calls are HTTPS. */
  nodeAgentCaFile?: string;
}

function port(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new ConfigError(`--${flag} must be a port number from 0 to 65535, got '${value}'`);
  return n;
}

function name(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!DNS_LABEL.test(value))
    throw new ConfigError(
      `--${flag} must be a DNS label (lower case, digits, '-'), got '${value}'`,
    );
  return value;
}

/**
 * Parses the command line; returns "help" for --help. Throws ConfigError on
 * unknown flags and bad values, so a typo never starts a half-configured
 * operator.
 */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  hostname: string,
): OperatorConfig | "help" {
  const values = parseFlags(argv, {
    "leader-elect": { type: "boolean" },
    "lease-namespace": { type: "string" },
    "lease-name": { type: "string" },
    "watch-namespace": { type: "string" },
    "envd-image": { type: "string" },
    "default-runtime-class": { type: "string" },
    "kit-volume": { type: "string" },
    "metrics-port": { type: "string" },
    "health-port": { type: "string" },
    workers: { type: "string" },
    "log-level": { type: "string" },
    gpus: { type: "boolean" },
    "node-agent-port": { type: "string" },
    "node-agent-ca": { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) return "help";
  const workers = values.workers ?? "8";
  if (!/^\d+$/.test(workers) || Number(workers) < 1 || Number(workers) > 256)
    throw new ConfigError(`--workers must be an integer from 1 to 256, got '${workers}'`);
  const logLevel = logLevelFlag(values["log-level"]);
  const envdImage = values["envd-image"] ?? "localhost/soulbox/envd:latest";
  if (!envdImage.trim()) throw new ConfigError("--envd-image must not be empty");
  const runtimeClass = values["default-runtime-class"] ?? "kata";
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(runtimeClass))
    throw new ConfigError(
      `--default-runtime-class must be a RuntimeClass name, got '${runtimeClass}'`,
    );
  const nodeAgentCa = values["node-agent-ca"];
  if (nodeAgentCa !== undefined && !nodeAgentCa.startsWith("/"))
    throw new ConfigError(`--node-agent-ca must be an absolute path, got '${nodeAgentCa}'`);
  const kitVolume = values["kit-volume"] ?? "copy";
  if (!KIT_VOLUMES.includes(kitVolume as KitVolume))
    throw new ConfigError(`--kit-volume must be ${KIT_VOLUMES.join(" or ")}, got '${kitVolume}'`);
  return {
    leaderElect: values["leader-elect"] ?? false,
    leaseNamespace:
      name("lease-namespace", values["lease-namespace"]) ?? env.POD_NAMESPACE ?? "default",
    leaseName: name("lease-name", values["lease-name"]) ?? "soulbox-operator",
    identity: env.POD_NAME || hostname,
    watchNamespace: name("watch-namespace", values["watch-namespace"]),
    envdImage,
    defaultRuntimeClassName: runtimeClass,
    kitVolume: kitVolume as KitVolume,
    metricsPort: port("metrics-port", values["metrics-port"], 8080),
    healthPort: port("health-port", values["health-port"], 8081),
    workers: Number(workers),
    logLevel,
    ...(values.gpus ? { gpus: true as const } : {}),
    nodeAgentPort: port("node-agent-port", values["node-agent-port"], NODE_AGENT_PORT),
    ...(env[NODE_AGENT_TOKEN_FILE_ENV]
      ? { nodeAgentTokenFile: env[NODE_AGENT_TOKEN_FILE_ENV] }
      : {}),
    ...(nodeAgentCa ? { nodeAgentCaFile: nodeAgentCa } : {}),
  };
}
