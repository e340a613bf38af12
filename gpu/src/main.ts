/**
 * soulbox-gpu-plugin: the main flow.
 * 1. flags → config (config.ts); with --fake-gpus, write the fake inventory first;
 * 2. discover the GPUs (driver or fake inventory); --discover prints them and exits;
 * 3. with a node name, link to the API server (publish the inventory, watch GpuAllocations);
 * 4. serve the DevicePlugin API and register with the kubelet (plugin.ts), re-registering
 *    after kubelet restarts and re-checking health;
 * 5. SIGTERM/SIGINT: stop serving, exit.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { createLogger } from "../../lib/log.js";
import { startClusterLink } from "./cluster-link.js";
import { ConfigError, USAGE, parseConfig } from "./config.js";
import { discover, driverSource, fakeSource } from "./discover.js";
import { writeFakeInventory } from "./fake-inventory.js";
import { publishedDevices } from "./inventory.js";
import { startPlugin } from "./plugin.js";

let parsed;
try {
  parsed = parseConfig(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`soulbox-gpu-plugin: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed === "help") {
  console.log(USAGE);
  process.exit(0);
}
const cfg = parsed;
const log = createLogger(cfg.logLevel, { component: "soulbox-gpu-plugin" });

if (cfg.fakeInventory && cfg.fakeGpus && !existsSync(join(cfg.fakeInventory, "query.csv"))) {
  await writeFakeInventory(cfg.fakeInventory, { gpus: cfg.fakeGpus });
  log.info("wrote a fake inventory", { dir: cfg.fakeInventory, gpus: cfg.fakeGpus });
}
const source = cfg.fakeInventory ? fakeSource(cfg.fakeInventory) : driverSource(cfg.nvidiaSmi);
if (cfg.discoverOnly) {
  console.log(JSON.stringify(publishedDevices(await discover(source)), null, 2));
  process.exit(0);
}

let link;
if (cfg.nodeName) {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  link = startClusterLink({ kubeConfig, node: cfg.nodeName, log });
}
const plugin = await startPlugin({
  source,
  pluginDir: cfg.pluginDir,
  resourceName: cfg.resourceName,
  socketName: cfg.socketName,
  cdi: cfg.cdi,
  mounts: cfg.mounts,
  healthIntervalMs: cfg.healthIntervalMs,
  watchIntervalMs: 1000,
  ...(link ? { link } : {}),
  log,
});
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    log.info("stopping", { signal });
    void plugin.stop().then(() => process.exit(0));
  });
