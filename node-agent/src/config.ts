/**
 * The agent's flags and environment, checked at start so a typo never starts a half-configured
 * agent.
 */
import { ConfigError, logLevelFlag, parseFlags, type LogLevel } from "../../lib/flags.js";
import {
  NODE_AGENT_PORT,
  NODE_AGENT_TLS_NAME,
  NODE_AGENT_TOKEN_FILE_ENV,
} from "../../api/node-agent.js";

/** The agent's settings. */
export interface AgentConfig {
  host: string;
  port: number;
  /** containerd's state directory (`state` in its config), mounted at the same path. */
  containerdState: string;
  /** The kubelet's root directory (`--root-dir`), mounted at the same path. */
  kubeletRoot: string;
  /** The file holding the bearer token the operator presents. */
  tokenFile: string;
  /** The serving certificate and key (PEM files): with them the agent serves HTTPS only. */
  tls?: { certFile: string; keyFile: string };
  /** The node-local cache of snapshot layers; none when absent. */
  cacheDir?: string;
  cacheMaxBytes: number;
  logLevel: LogLevel;
  /** Memory snapshots: how to reach containerd and the kubelet; absent: Memory is refused. */
  memory?: MemoryConfig;
  /** Where OCI layouts and fetched checkpoint archives are written for a moment. */
  workDir: string;
}

/** The agent's settings for Memory snapshots. */
export interface MemoryConfig {
  /** The `ctr` binary (containerd's client). */
  ctr: string;
  /** containerd's socket. */
  containerdAddress: string;
  /** `https://<node>:<port>`: this node's kubelet. */
  kubeletUrl: string;
  /** The CA that signed the kubelet's serving certificate. */
  kubeletCa: string;
  /** A bearer token (the agent's ServiceAccount token) or a client certificate and key. */
  kubeletTokenFile?: string;
  kubeletCert?: string;
  kubeletKey?: string;
}

/** The usage text (`--help`). */
export const USAGE = `usage: soulbox-node-agent --containerd-state DIR [options]
  --containerd-state DIR   containerd's state directory (default config: /run/containerd)
  --kubelet-root DIR       the kubelet's root directory (default /var/lib/kubelet)
  --host ADDR              listen address (default 0.0.0.0)
  --port N                 listen port (default ${NODE_AGENT_PORT})
  --tls-cert FILE, --tls-key FILE   serve HTTPS with this certificate (for the name
                           ${NODE_AGENT_TLS_NAME}) and key, PEM; without them, plain HTTP
  --cache-dir DIR          node-local cache of snapshot layers (default: none)
  --cache-max-bytes N      the cache's size cap in bytes (default 10737418240)
  --log-level LEVEL        debug, info, warn or error (default info)
  --work-dir DIR           scratch space for checkpoint images (default: the OS temp dir)
Memory snapshots (all of these, or none: then Memory captures are refused):
  --ctr PATH               containerd's ctr binary
  --containerd-address S   containerd's socket
  --kubelet-url URL        this node's kubelet, https://<node ip>:<port>
  --kubelet-ca FILE        the CA of the kubelet's serving certificate
  --kubelet-token-file F   a token the kubelet accepts for nodes/checkpoint (or:)
  --kubelet-cert FILE, --kubelet-key FILE   a client certificate the kubelet accepts
env: ${NODE_AGENT_TOKEN_FILE_ENV} (required) the bearer-token file; SOULBOX_STORAGE_* the object store`;

function positiveInt(
  flag: string,
  value: string | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new ConfigError(`${flag} must be an integer from 1 to ${max}, got '${value}'`);
  return n;
}

/** Parses argv and env; "help" for --help. Throws ConfigError naming the bad flag. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): AgentConfig | "help" {
  const v = parseFlags(argv, {
    help: { type: "boolean" },
    "containerd-state": { type: "string" },
    "kubelet-root": { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "cache-dir": { type: "string" },
    "cache-max-bytes": { type: "string" },
    "log-level": { type: "string" },
    "work-dir": { type: "string" },
    ctr: { type: "string" },
    "containerd-address": { type: "string" },
    "kubelet-url": { type: "string" },
    "kubelet-ca": { type: "string" },
    "kubelet-token-file": { type: "string" },
    "kubelet-cert": { type: "string" },
    "kubelet-key": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
  });
  if (v.help) return "help";
  const containerdState = v["containerd-state"];
  if (!containerdState?.startsWith("/"))
    throw new ConfigError(
      "--containerd-state is required: containerd's state directory, an absolute path",
    );
  const kubeletRoot = v["kubelet-root"] ?? "/var/lib/kubelet";
  if (!kubeletRoot.startsWith("/"))
    throw new ConfigError(`--kubelet-root must be absolute, got '${kubeletRoot}'`);
  const tokenFile = env[NODE_AGENT_TOKEN_FILE_ENV];
  if (!tokenFile)
    throw new ConfigError(`${NODE_AGENT_TOKEN_FILE_ENV} must name the bearer-token file`);
  const cacheDir = v["cache-dir"];
  if (cacheDir !== undefined && !cacheDir.startsWith("/"))
    throw new ConfigError(`--cache-dir must be absolute, got '${cacheDir}'`);
  const workDir = v["work-dir"] ?? env.TMPDIR ?? "/tmp";
  if (!workDir.startsWith("/"))
    throw new ConfigError(`--work-dir must be absolute, got '${workDir}'`);
  const memory = memoryConfig(v);
  const tls = tlsConfig(v["tls-cert"], v["tls-key"]);
  return {
    host: v.host ?? "0.0.0.0",
    port: positiveInt("--port", v.port, NODE_AGENT_PORT, 65535),
    containerdState,
    kubeletRoot,
    tokenFile,
    ...(tls ? { tls } : {}),
    ...(cacheDir ? { cacheDir } : {}),
    cacheMaxBytes: positiveInt(
      "--cache-max-bytes",
      v["cache-max-bytes"],
      10 * 1024 ** 3,
      Number.MAX_SAFE_INTEGER,
    ),
    logLevel: logLevelFlag(v["log-level"]),
    workDir,
    ...(memory ? { memory } : {}),
  };
}

/** `--tls-cert` and `--tls-key`: both (absolute paths) or neither. Pure. */
export function tlsConfig(
  certFile: string | undefined,
  keyFile: string | undefined,
): AgentConfig["tls"] {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (!certFile || !keyFile)
    throw new ConfigError("--tls-cert and --tls-key go together: give both, or neither");
  for (const [flag, path] of [
    ["--tls-cert", certFile],
    ["--tls-key", keyFile],
  ] as const)
    if (!path.startsWith("/"))
      throw new ConfigError(`${flag} must be an absolute path, got '${path}'`);
  return { certFile, keyFile };
}

const MEMORY_FLAGS = [
  "ctr",
  "containerd-address",
  "kubelet-url",
  "kubelet-ca",
  "kubelet-token-file",
  "kubelet-cert",
  "kubelet-key",
] as const;

/** The Memory settings: none given is none; some given must be a whole set. Pure. */
export function memoryConfig(
  v: Partial<Record<(typeof MEMORY_FLAGS)[number], string>>,
): MemoryConfig | undefined {
  if (MEMORY_FLAGS.every((f) => v[f] === undefined)) return undefined;
  const missing = (["ctr", "containerd-address", "kubelet-url", "kubelet-ca"] as const).filter(
    (f) => !v[f],
  );
  if (missing.length)
    throw new ConfigError(
      `Memory snapshots need ${missing.map((f) => `--${f}`).join(", ")} as well (or none of the Memory flags)`,
    );
  const token = v["kubelet-token-file"];
  const cert = v["kubelet-cert"];
  const key = v["kubelet-key"];
  if (!token && !(cert && key))
    throw new ConfigError(
      "Memory snapshots need kubelet credentials: --kubelet-token-file, or --kubelet-cert and --kubelet-key",
    );
  if (!/^https:\/\/[^/]+\/?$/.test(v["kubelet-url"] ?? ""))
    throw new ConfigError(
      `--kubelet-url must be https://<host>:<port>, got '${v["kubelet-url"] ?? ""}'`,
    );
  for (const f of MEMORY_FLAGS) {
    const path = v[f];
    if (f !== "kubelet-url" && path !== undefined && !path.startsWith("/"))
      throw new ConfigError(`--${f} must be an absolute path, got '${path}'`);
  }
  return {
    ctr: v.ctr ?? "",
    containerdAddress: v["containerd-address"] ?? "",
    kubeletUrl: v["kubelet-url"] ?? "",
    kubeletCa: v["kubelet-ca"] ?? "",
    ...(token ? { kubeletTokenFile: token } : {}),
    ...(cert && key ? { kubeletCert: cert, kubeletKey: key } : {}),
  };
}
