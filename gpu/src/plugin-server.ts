/**
 * The DevicePlugin gRPC service on a unix socket: ListAndWatch streams the devices (with their
 * NUMA node and health) again on every change, GetPreferredAllocation answers from
 * `preferred.ts`, Allocate from `allocate.ts`. The service knows nothing about where the
 * inventory comes from or about registration (see `plugin.ts`).
 */
import { rm } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../lib/log.js";
import { containerAllocation, type AllocateOptions } from "./allocate.js";
import { HEALTHY, UNHEALTHY, deviceAPI, type ApiDevice } from "./api.js";
import type { Inventory } from "./inventory.js";
import { preferredAllocation } from "./preferred.js";

/** What the service reads; `subscribe` calls back after every change of the inventory. */
export interface PluginState {
  inventory(): Inventory;
  /** Device sets reserved on this node by bound GpuAllocations (see `pins.ts`). */
  pinned(): string[][];
  subscribe(listener: () => void): () => void;
}

/** ListAndWatch's device list: unhealthy devices stay listed, as Unhealthy. */
export function apiDevices(inv: Inventory): ApiDevice[] {
  return inv.devices.map((d) => ({
    ID: d.uuid,
    health: inv.unhealthy.has(d.uuid) ? UNHEALTHY : HEALTHY,
    ...(d.numaNode !== undefined ? { topology: { nodes: [{ ID: d.numaNode }] } } : {}),
  }));
}

/** A serving plugin. */
export interface PluginServer {
  /** The socket path it listens on. */
  readonly socket: string;
  /** Ends the open ListAndWatch streams and stops listening. */
  stop(): Promise<void>;
}

/** Listens on `socket` (a stale file there is removed first). */
export async function servePlugin(opts: {
  socket: string;
  state: PluginState;
  allocate: AllocateOptions;
  log: Logger;
}): Promise<PluginServer> {
  const { state, log } = opts;
  const server = new grpc.Server();
  const streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const fail = (callback: grpc.sendUnaryData<unknown>, code: grpc.status, err: unknown) =>
    callback({ code, details: err instanceof Error ? err.message : String(err) }, null);

  server.addService(deviceAPI().DevicePlugin.service, {
    GetDevicePluginOptions: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { pre_start_required: false, get_preferred_allocation_available: true }),

    ListAndWatch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      streams.add(call);
      const send = () => call.write({ devices: apiDevices(state.inventory()) });
      send();
      const unsubscribe = state.subscribe(send);
      const end = () => {
        unsubscribe();
        streams.delete(call);
      };
      call.on("cancelled", end);
      call.on("close", end);
      call.on("error", end);
    },

    GetPreferredAllocation: (
      call: grpc.ServerUnaryCall<
        {
          container_requests: {
            available_deviceIDs: string[];
            must_include_deviceIDs: string[];
            allocation_size: number;
          }[];
        },
        unknown
      >,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const inv = state.inventory();
      const pinned = state.pinned();
      const usable = (ids: string[]) => ids.filter((id) => !inv.unhealthy.has(id));
      const container_responses = call.request.container_requests.map((r) => {
        const deviceIDs = preferredAllocation(
          inv.devices,
          {
            available: usable(r.available_deviceIDs),
            mustInclude: r.must_include_deviceIDs,
            size: r.allocation_size,
          },
          pinned,
        );
        log.info("preferred allocation", {
          size: r.allocation_size,
          available: r.available_deviceIDs.length,
          deviceIDs,
        });
        return { deviceIDs };
      });
      callback(null, { container_responses });
    },

    Allocate: (
      call: grpc.ServerUnaryCall<{ container_requests: { devices_ids: string[] }[] }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const inv = state.inventory();
      try {
        const container_responses = call.request.container_requests.map((r) => {
          const bad = r.devices_ids.filter((id) => inv.unhealthy.has(id));
          if (bad.length)
            throw new Error(`unhealthy devices cannot be allocated: ${bad.join(", ")}`);
          return containerAllocation(inv.devices, r.devices_ids, opts.allocate);
        });
        log.info("allocated", {
          containers: call.request.container_requests.map((r) => r.devices_ids),
        });
        callback(null, { container_responses });
      } catch (err) {
        log.warn("allocate refused", { error: err });
        fail(callback, grpc.status.INVALID_ARGUMENT, err);
      }
    },

    PreStartContainer: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, {}),
  });

  await rm(opts.socket, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${opts.socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    socket: opts.socket,
    async stop() {
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
    },
  };
}
