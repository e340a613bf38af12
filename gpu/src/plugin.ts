/**
 * The plugin's life on a node: discover, serve the DevicePlugin service on a socket in the
 * kubelet's device-plugin directory, register with the kubelet, and keep both true:
 * - health: the inventory is discovered again every `healthIntervalMs`; a device that left the
 *   driver's list or reports errors turns Unhealthy (ListAndWatch sends the new list at once,
 *   and the kubelet stops handing it out);
 * - kubelet restarts: a restarted kubelet makes a new registration socket and removes the
 *   plugins' sockets, so when the kubelet's socket is a new file or ours is gone, the plugin
 *   serves again and registers again.
 */
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "../../lib/log.js";
import type { AllocateOptions } from "./allocate.js";
import { API_VERSION, KUBELET_SOCKET, deviceAPI } from "./api.js";
import type { ClusterLink } from "./cluster-link.js";
import { discover, mergeGone, type InventorySource } from "./discover.js";
import type { Inventory } from "./inventory.js";
import { apiDevices, servePlugin, type PluginServer } from "./plugin-server.js";

/** The device nodes besides /dev/nvidia<N> that every GPU container needs, when the host has them. */
const CONTROL_DEVICES = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"];

/** What {@link startPlugin} needs. */
export interface PluginOptions {
  source: InventorySource;
  /** The kubelet's device-plugin directory (its registration socket and the plugins' sockets). */
  pluginDir: string;
  resourceName: string;
  /** This plugin's socket's file name in pluginDir. */
  socketName: string;
  cdi: boolean;
  mounts: AllocateOptions["mounts"];
  healthIntervalMs: number;
  /** How often the sockets are looked at for a kubelet restart. */
  watchIntervalMs: number;
  link?: ClusterLink;
  log: Logger;
}

/** A running plugin. */
export interface Plugin {
  inventory(): Inventory;
  /** How many times it registered with a kubelet. */
  readonly registrations: number;
  stop(): Promise<void>;
}

/** Registers `socketName` for `resourceName` with the kubelet at `kubeletSocket`. */
export async function register(
  kubeletSocket: string,
  socketName: string,
  resourceName: string,
): Promise<void> {
  const client = new (deviceAPI().Registration)(
    `unix://${kubeletSocket}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Register: (
      req: unknown,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null) => void,
    ) => void;
  };
  try {
    await new Promise<void>((resolve, reject) =>
      client.Register(
        {
          version: API_VERSION,
          endpoint: socketName,
          resource_name: resourceName,
          options: { pre_start_required: false, get_preferred_allocation_available: true },
        },
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null) => (err ? reject(err) : resolve()),
      ),
    );
  } finally {
    client.close();
  }
}

/** Discovers, serves and registers; resolves once registered with the kubelet. */
export async function startPlugin(o: PluginOptions): Promise<Plugin> {
  const { log } = o;
  let inventory = await discover(o.source);
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  const allocate: AllocateOptions = {
    devRoot: o.source.devRoot,
    controlDevices: CONTROL_DEVICES.filter((d) => existsSync(join(o.source.devRoot, d))),
    cdi: o.cdi,
    mounts: o.mounts,
  };
  const state = {
    inventory: () => inventory,
    pinned: () => o.link?.pinned() ?? [],
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  const socket = join(o.pluginDir, o.socketName);
  const kubeletSocket = join(o.pluginDir, KUBELET_SOCKET);
  log.info("discovered GPUs", {
    devices: inventory.devices.map((d) => ({ uuid: d.uuid, index: d.index, numa: d.numaNode })),
    unhealthy: Object.fromEntries(inventory.unhealthy),
  });
  await o.link
    ?.publish(inventory)
    .catch((error: unknown) => log.warn("could not publish the inventory", { error }));

  let server: PluginServer | undefined;
  let kubeletIno: number | undefined;
  let registrations = 0;
  let stopped = false;
  const inode = async (path: string) => (await stat(path).catch(() => undefined))?.ino;

  const serveAndRegister = async () => {
    await server?.stop();
    server = await servePlugin({ socket, state, allocate, log });
    kubeletIno = await inode(kubeletSocket);
    await register(kubeletSocket, o.socketName, o.resourceName);
    registrations++;
    log.info("registered with the kubelet", { resource: o.resourceName, socket, registrations });
  };
  await serveAndRegister();

  // One check at a time: a slow registration must not overlap the next look.
  let busy = false;
  const watch = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    void (async () => {
      const ino = await inode(kubeletSocket);
      if (ino === undefined) return; // the kubelet is down: wait for its new socket
      if (ino !== kubeletIno || !existsSync(socket)) {
        log.info("the kubelet restarted (or removed our socket); registering again");
        await serveAndRegister();
      }
    })()
      .catch((error: unknown) => log.warn("registration failed; retrying", { error }))
      .finally(() => (busy = false));
  }, o.watchIntervalMs);

  let checking = false;
  const health = setInterval(() => {
    if (checking || stopped) return;
    checking = true;
    void (async () => {
      const next = mergeGone(inventory, await discover(o.source));
      const changed = !isDeepStrictEqual(apiDevices(next), apiDevices(inventory));
      inventory = next;
      if (changed) {
        log.warn("device health changed", { unhealthy: Object.fromEntries(next.unhealthy) });
        notify();
      }
      await o.link?.publish(next);
    })()
      .catch((error: unknown) => log.warn("health check failed", { error }))
      .finally(() => (checking = false));
  }, o.healthIntervalMs);

  return {
    inventory: () => inventory,
    get registrations() {
      return registrations;
    },
    async stop() {
      stopped = true;
      clearInterval(watch);
      clearInterval(health);
      await server?.stop();
      await o.link?.stop();
    },
  };
}
