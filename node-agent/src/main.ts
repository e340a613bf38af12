/**
 * soulbox-node-agent: one per node (a privileged DaemonSet on the host network). It does what
 * only the node can: read a container's overlay upper directory into a snapshot layer, and
 * apply a layer to a new container's root filesystem before its command starts. The operator
 * calls it (api/node-agent.ts); it never acts on its own.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "../../lib/flags.js";
import { createLogger } from "../../lib/log.js";
import { storageFromEnvironment, type ObjectStore } from "../../lib/storage/index.js";
import { createNodeCache } from "../../lib/storage/node-cache.js";
import { capture } from "./capture.js";
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
const store = await storageFromEnvironment();
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

const server = await serveAgent({
  host: cfg.host,
  port: cfg.port,
  token,
  log,
  handlers: {
    capture: (req) => capture(req, { store: needStore(), containerdState: cfg.containerdState }),
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
  storage: store?.displayUrl ?? "none",
  cache: cfg.cacheDir ?? "none",
});

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    log.info("stopping", { signal });
    server.close();
    void Promise.all([cache?.close(), store?.close()]).finally(() => process.exit(0));
  });
