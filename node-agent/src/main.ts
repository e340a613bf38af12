/**
 * soulbox-node-agent: one per node (a privileged DaemonSet on the host network and pid
 * namespace). It does what only the node can: read a container's overlay upper directory into a
 * snapshot layer, apply a layer to a new container's root filesystem before its command starts,
 * and (Memory mode) checkpoint a container through the kubelet into a stored archive and a
 * checkpoint image in containerd, put that image back on the node, and wake a restored executor.
 * The operator calls it (api/node-agent.ts); it never acts on its own.
 *
 * 1. Parse flags and env (a bad one exits 2 with the usage).
 * 2. Read the bearer token, open the store and the node cache.
 * 3. Serve the calls until SIGTERM/SIGINT, then close the cache and the store.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "../../lib/flags.js";
import { createLogger } from "../../lib/log.js";
import { storageFromEnvironment, type ObjectStore } from "../../lib/storage/index.js";
import { createImageImports } from "./memory/image-imports.js";
import { createNodeCache } from "../../lib/storage/node-cache.js";
import { capture } from "./capture.js";
import {
  captureMemory,
  forgetImage,
  restoreImage,
  wake,
  type MemoryDeps,
} from "./memory-capture.js";
import { USAGE, parseConfig } from "./config.js";
import { NodeAgentError } from "./errors.js";
import { restore } from "./restore.js";
import { serveAgent } from "./server.js";

let parsed;
try {
  parsed = parseConfig(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`soulbox-node-agent: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed === "help") {
  console.log(USAGE);
  process.exit(0);
}
const cfg = parsed;
const log = createLogger(cfg.logLevel, { component: "soulbox-node-agent" });
const token = (await readFile(cfg.tokenFile, "utf8")).trim();
if (!token) {
  console.error(`soulbox-node-agent: the token file ${cfg.tokenFile} is empty`);
  process.exit(2);
}
const tls = cfg.tls
  ? { cert: await readFile(cfg.tls.certFile), key: await readFile(cfg.tls.keyFile) }
  : undefined;
const store = await storageFromEnvironment();
const imports = createImageImports();
const cache = cfg.cacheDir
  ? await createNodeCache({ dir: cfg.cacheDir, maxBytes: cfg.cacheMaxBytes, log })
  : undefined;

function needStore(): ObjectStore {
  if (!store)
    throw new NodeAgentError(
      "StorageNotConfigured",
      "no object storage is configured (Helm values storage.url): snapshots need one",
    );
  return store;
}

/** The Memory calls' deps; a typed refusal when the agent was started without them. */
async function needMemory(): Promise<MemoryDeps> {
  const m = cfg.memory;
  if (!m)
    throw new NodeAgentError(
      "MemoryNotConfigured",
      "this node agent has no kubelet and containerd settings (Helm values nodeAgent.memory): Memory snapshots are off on this node",
    );
  return {
    store: needStore(),
    imports,
    log,
    ...(cache ? { cache } : {}),
    containerd: { ctr: m.ctr, address: m.containerdAddress },
    kubelet: {
      url: m.kubeletUrl,
      ca: await readFile(m.kubeletCa),
      ...(m.kubeletTokenFile ? { tokenFile: m.kubeletTokenFile } : {}),
      ...(m.kubeletCert && m.kubeletKey
        ? { cert: await readFile(m.kubeletCert), key: await readFile(m.kubeletKey) }
        : {}),
    },
    workDir: cfg.workDir,
  };
}

const server = await serveAgent({
  host: cfg.host,
  port: cfg.port,
  token,
  log,
  ...(tls ? { tls } : {}),
  handlers: {
    capture: async (req) =>
      req.mode === "Memory"
        ? captureMemory(req, await needMemory())
        : capture(req, {
            store: needStore(),
            ...(cache ? { cache } : {}),
            containerdState: cfg.containerdState,
          }),
    restoreImage: async (req) => restoreImage(req, await needMemory()),
    forgetImage: async (req) => forgetImage(req, await needMemory()),
    wake: async (req) => {
      await wake(req, await needMemory());
      return { woken: true };
    },
    restore: (req) =>
      restore(req, {
        store: needStore(),
        ...(cache ? { cache } : {}),
        containerdState: cfg.containerdState,
        kubeletRoot: cfg.kubeletRoot,
      }),
  },
});
log.info("serving", {
  host: cfg.host,
  port: cfg.port,
  tls: tls ? "on" : "off",
  storage: store?.displayUrl ?? "none",
  cache: cfg.cacheDir ?? "none",
  memory: cfg.memory ? cfg.memory.kubeletUrl : "off",
});

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    log.info("stopping", { signal });
    server.close();
    // An image import cut short is made again by the restore that needs it (from the store).
    if (imports.running)
      log.warn("stopping with checkpoint image imports running", { running: imports.running });
    void Promise.all([cache?.close(), store?.close()]).finally(() => process.exit(0));
  });
