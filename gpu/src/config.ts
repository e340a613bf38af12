/**
 * The device plugin's flags (pure: argv and env in, a config or a ConfigError out).
 */
import { ConfigError, logLevelFlag, parseFlags, type LogLevel } from "../../lib/flags.js";
import { GPU_RESOURCE } from "../../api/gpu.js";
import { DEFAULT_PLUGIN_DIR } from "./api.js";

export { ConfigError };

/** The usage text. */
export const USAGE = `usage: soulbox-gpu-plugin [flags]
  --fake-inventory DIR     read the GPUs from DIR instead of the NVIDIA driver (layout: gpu/src/discover.ts)
  --fake-gpus N            with --fake-inventory: first write a fake inventory of N GPUs over 2 NUMA nodes
                           into DIR (device nodes made with mknod) when it has none
  --nvidia-smi PATH        the driver's nvidia-smi (default: nvidia-smi on PATH)
  --plugin-dir DIR         the kubelet's device-plugin directory (default ${DEFAULT_PLUGIN_DIR})
  --resource-name NAME     the extended resource (default ${GPU_RESOURCE})
  --socket-name NAME       this plugin's socket in the plugin dir (default soulbox-gpu.sock)
  --node-name NAME         this node (default $NODE_NAME): publish the inventory on it and prefer the
                           devices of GpuAllocations bound to it (needs a kubeconfig or in-cluster access)
  --cdi                    also name devices as CDI devices (nvidia.com/gpu=<uuid>)
  --mount HOST:CONTAINER   a read-only mount for every GPU container (repeatable)
  --health-interval-ms MS  how often devices are checked (default 5000)
  --log-level LEVEL        debug, info, warn or error (default info)
  --discover               print the inventory as JSON and exit`;

/** The plugin's configuration. */
export interface PluginConfig {
  fakeInventory?: string;
  fakeGpus?: number;
  nvidiaSmi: string;
  pluginDir: string;
  resourceName: string;
  socketName: string;
  nodeName?: string;
  cdi: boolean;
  mounts: { hostPath: string; containerPath: string }[];
  healthIntervalMs: number;
  logLevel: LogLevel;
  discoverOnly: boolean;
}

const positiveInt = (flag: string, v: string | undefined, max: number): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max)
    throw new ConfigError(`${flag} must be a whole number from 1 to ${max}, got '${v}'`);
  return Number(v);
};

/** Parses argv (without node and the script) and env; "help" for --help. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): PluginConfig | "help" {
  const f = parseFlags(argv, {
    "fake-inventory": { type: "string" },
    "fake-gpus": { type: "string" },
    "nvidia-smi": { type: "string" },
    "plugin-dir": { type: "string" },
    "resource-name": { type: "string" },
    "socket-name": { type: "string" },
    "node-name": { type: "string" },
    cdi: { type: "boolean" },
    mount: { type: "string", multiple: true },
    "health-interval-ms": { type: "string" },
    "log-level": { type: "string" },
    discover: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (f.help) return "help";
  const fakeGpus = positiveInt("--fake-gpus", f["fake-gpus"], 64);
  if (fakeGpus !== undefined && !f["fake-inventory"])
    throw new ConfigError(
      "--fake-gpus needs --fake-inventory DIR (where to write the fake inventory)",
    );
  const socketName = f["socket-name"] ?? "soulbox-gpu.sock";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.sock$/.test(socketName))
    throw new ConfigError(`--socket-name must be a file name ending in .sock, got '${socketName}'`);
  const resourceName = f["resource-name"] ?? GPU_RESOURCE;
  if (!/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(resourceName))
    throw new ConfigError(
      `--resource-name must be a domain-qualified name like ${GPU_RESOURCE}, got '${resourceName}'`,
    );
  const mounts = (f.mount ?? []).map((m) => {
    const [hostPath, containerPath, ...rest] = m.split(":");
    if (!hostPath?.startsWith("/") || !containerPath?.startsWith("/") || rest.length)
      throw new ConfigError(`--mount must be HOST:CONTAINER with absolute paths, got '${m}'`);
    return { hostPath, containerPath };
  });
  const nodeName = f["node-name"] ?? env.NODE_NAME;
  return {
    ...(f["fake-inventory"] ? { fakeInventory: f["fake-inventory"] } : {}),
    ...(fakeGpus !== undefined ? { fakeGpus } : {}),
    nvidiaSmi: f["nvidia-smi"] ?? "nvidia-smi",
    pluginDir: f["plugin-dir"] ?? DEFAULT_PLUGIN_DIR,
    resourceName,
    socketName,
    ...(nodeName ? { nodeName } : {}),
    cdi: f.cdi ?? false,
    mounts,
    healthIntervalMs:
      positiveInt("--health-interval-ms", f["health-interval-ms"], 3_600_000) ?? 5000,
    logLevel: logLevelFlag(f["log-level"]),
    discoverOnly: f.discover ?? false,
  };
}
