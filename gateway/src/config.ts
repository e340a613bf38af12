import {
  ConfigError,
  DNS_LABEL,
  logLevelFlag,
  parseFlags,
  type LogLevel,
} from "../../lib/flags.js";

import { parseVolumeSettings, type VolumeSettings } from "./volumes/settings.js";

export { ConfigError } from "../../lib/flags.js";

/** Usage text for `gateway --help`. */
export const USAGE = `soulbox-gateway: E2B's REST API on top of SoulBox Sandboxes, and the proxy to their envd.

Usage: node dist/gateway.mjs [options]
       node dist/gateway.mjs keys create --team <namespace> [--name <name>] [--expires-in <seconds>]
       node dist/gateway.mjs keys list | keys revoke --name <name>

  --http-port <n>                plain HTTP/1.1 and h2c: REST API and envd routing (default 8080)
  --https-port <n>               TLS (HTTP/2 and HTTP/1.1) with --tls-cert/--tls-key (default 8443; 0 = off)
  --tls-cert <file>              PEM certificate for *.<domain> and <domain>
  --tls-key <file>               its PEM private key
  --host <addr>                  bind address (default 0.0.0.0)
  --domain <domain>              sandbox domain: hosts {port}-{sandboxId}.<domain> (default soulbox.test)
  --health-port <n>              GET /healthz, /readyz and /metrics (default 8081; 0 = off)
  --namespace <ns>               where the API keys Secret lives (default: POD_NAMESPACE, else 'default')
  --api-keys-secret <name>       the API keys Secret (default soulbox-gateway-api-keys)
  --default-timeout-seconds <n>  sandbox timeout when a create names none (default 300)
  --max-timeout-seconds <n>      the longest timeout a call may set (default 86400)
  --create-timeout-seconds <n>   how long a create waits for the sandbox to be Ready (default 120)
  --rate-limit <n>               API requests per second per key (default 20)
  --rate-burst <n>               requests a key may send at once above the rate (default 40)
  --max-body-bytes <n>           largest REST request body (default 1048576)
  --volume-storage-class <name>  StorageClass of volumes' PersistentVolumeClaims (default: the cluster default)
  --volume-access-mode <mode>    ReadWriteOnce (default), ReadWriteMany (share across nodes) or ReadWriteOncePod
  --volume-size <quantity>       size of each volume's claim (default 1Gi)
  --volume-content-template <id> template of the sandboxes that serve /volumecontent (default base)
  --volume-content-idle-seconds <n>  such a sandbox goes after this long unused (default 300)
  --memory-pause <mode>          how a pause that keeps memory (E2B's default) is taken: Freeze (default;
                                 the processes stopped in place, the pod kept) or Memory (a CRIU checkpoint
                                 stored as a Snapshot and the pod deleted; needs node agents with
                                 nodeAgent.memory); Memory also lets a named snapshot take memory: true
  --audit-log <path>             append audit lines (JSON) here instead of stdout
  --log-level <level>            debug, info, warn or error (default info)
  --help                         show this text

The cluster comes from KUBECONFIG or the in-cluster service account.`;

/** The gateway's settings, from flags and environment. */
export interface GatewayConfig {
  host: string;
  httpPort: number;
  httpsPort: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  domain: string;
  healthPort: number;
  namespace: string;
  apiKeysSecret: string;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  createTimeoutSeconds: number;
  rateLimit: number;
  rateBurst: number;
  maxBodyBytes: number;
  auditLog?: string;
  logLevel: LogLevel;
  /** E2B volumes: how their claims are made and their content served. */
  volumes: VolumeSettings;
  /**
   * How a pause that keeps memory is taken: `Freeze` (in place, the pod kept) or `Memory` (a
   * CRIU checkpoint in a Snapshot, the pod deleted).
   */
  memoryPause: MemoryPause;
}

/** The `pauseMode` of a pause that keeps memory. */
export type MemoryPause = "Freeze" | "Memory";

const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function integer(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new ConfigError(`--${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

/**
 * Parses the command line; returns "help" for --help. Throws ConfigError on unknown flags and bad
 * values, so a typo never starts a half-configured gateway.
 */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
): GatewayConfig | "help" {
  const values = parseFlags(argv, {
    "http-port": { type: "string" },
    "https-port": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    host: { type: "string" },
    domain: { type: "string" },
    "health-port": { type: "string" },
    namespace: { type: "string" },
    "api-keys-secret": { type: "string" },
    "default-timeout-seconds": { type: "string" },
    "max-timeout-seconds": { type: "string" },
    "create-timeout-seconds": { type: "string" },
    "rate-limit": { type: "string" },
    "rate-burst": { type: "string" },
    "max-body-bytes": { type: "string" },
    "audit-log": { type: "string" },
    "memory-pause": { type: "string" },
    "log-level": { type: "string" },
    "volume-storage-class": { type: "string" },
    "volume-access-mode": { type: "string" },
    "volume-size": { type: "string" },
    "volume-content-template": { type: "string" },
    "volume-content-idle-seconds": { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) return "help";
  const logLevel = logLevelFlag(values["log-level"]);
  const domain = (values.domain ?? "soulbox.test").toLowerCase();
  if (!DOMAIN.test(domain))
    throw new ConfigError(
      `--domain must be a DNS name such as soulbox.example.com, got '${domain}'`,
    );
  const namespace = values.namespace ?? env.POD_NAMESPACE ?? "default";
  if (!DNS_LABEL.test(namespace))
    throw new ConfigError(`--namespace must be a namespace name, got '${namespace}'`);
  const apiKeysSecret = values["api-keys-secret"] ?? "soulbox-gateway-api-keys";
  if (!DNS_SUBDOMAIN.test(apiKeysSecret))
    throw new ConfigError(`--api-keys-secret must be a Secret name, got '${apiKeysSecret}'`);
  const httpsPort = integer("https-port", values["https-port"], 8443, 0, 65535);
  const tlsCertFile = values["tls-cert"];
  const tlsKeyFile = values["tls-key"];
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  const maxTimeoutSeconds = integer(
    "max-timeout-seconds",
    values["max-timeout-seconds"],
    86400,
    1,
    2592000,
  );
  const defaultTimeoutSeconds = integer(
    "default-timeout-seconds",
    values["default-timeout-seconds"],
    Math.min(300, maxTimeoutSeconds),
    1,
    2592000,
  );
  if (defaultTimeoutSeconds > maxTimeoutSeconds)
    throw new ConfigError(
      `--default-timeout-seconds (${defaultTimeoutSeconds}) must not exceed --max-timeout-seconds (${maxTimeoutSeconds})`,
    );
  const memoryPause = values["memory-pause"] ?? "Freeze";
  if (memoryPause !== "Freeze" && memoryPause !== "Memory")
    throw new ConfigError(`--memory-pause must be Freeze or Memory, got '${memoryPause}'`);
  const auditLog = values["audit-log"];
  if (auditLog !== undefined && !auditLog.trim())
    throw new ConfigError("--audit-log must not be empty");
  return {
    host: values.host ?? "0.0.0.0",
    httpPort: integer("http-port", values["http-port"], 8080, 0, 65535),
    // HTTPS needs a certificate: without one the port stays closed whatever --https-port says.
    httpsPort: tlsCertFile ? httpsPort : 0,
    tlsCertFile,
    tlsKeyFile,
    domain,
    healthPort: integer("health-port", values["health-port"], 8081, 0, 65535),
    namespace,
    apiKeysSecret,
    defaultTimeoutSeconds,
    maxTimeoutSeconds,
    createTimeoutSeconds: integer(
      "create-timeout-seconds",
      values["create-timeout-seconds"],
      120,
      1,
      3600,
    ),
    rateLimit: integer("rate-limit", values["rate-limit"], 20, 1, 100000),
    rateBurst: integer("rate-burst", values["rate-burst"], 40, 1, 100000),
    maxBodyBytes: integer("max-body-bytes", values["max-body-bytes"], 1048576, 1024, 1 << 30),
    auditLog,
    logLevel,
    volumes: parseVolumeSettings(values),
    memoryPause,
  };
}
