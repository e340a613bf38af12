/**
 * The agent's flags and environment, checked at start so a typo never starts a half-configured
 * agent.
 */
import { ConfigError, logLevelFlag, parseFlags, type LogLevel } from "../../lib/flags.js";
import { NODE_AGENT_PORT, NODE_AGENT_TOKEN_FILE_ENV } from "../../api/node-agent.js";

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
  /** The node-local cache of snapshot layers; none when absent. */
  cacheDir?: string;
  cacheMaxBytes: number;
  logLevel: LogLevel;
}

/** The usage text (`--help`). */
export const USAGE = `usage: soulbox-node-agent --containerd-state DIR [options]
  --containerd-state DIR   containerd's state directory (default config: /run/containerd)
  --kubelet-root DIR       the kubelet's root directory (default /var/lib/kubelet)
  --host ADDR              listen address (default 0.0.0.0)
  --port N                 listen port (default ${NODE_AGENT_PORT})
  --cache-dir DIR          node-local cache of snapshot layers (default: none)
  --cache-max-bytes N      the cache's size cap in bytes (default 10737418240)
  --log-level LEVEL        debug, info, warn or error (default info)
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
  return {
    host: v.host ?? "0.0.0.0",
    port: positiveInt("--port", v.port, NODE_AGENT_PORT, 65535),
    containerdState,
    kubeletRoot,
    tokenFile,
    ...(cacheDir ? { cacheDir } : {}),
    cacheMaxBytes: positiveInt(
      "--cache-max-bytes",
      v["cache-max-bytes"],
      10 * 1024 ** 3,
      Number.MAX_SAFE_INTEGER,
    ),
    logLevel: logLevelFlag(v["log-level"]),
  };
}
