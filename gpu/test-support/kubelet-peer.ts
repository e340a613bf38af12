/**
 * The kubelet's side of the device-plugin API, for tests without a kubelet: a real gRPC
 * Registration server on a unix socket (what the kubelet serves at device-plugins/kubelet.sock),
 * and a DevicePlugin client that calls a registered plugin as the kubelet does.
 */
import { rm } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { deviceAPI, type ApiDevice } from "../src/api.js";

/** A RegisterRequest as received. */
export interface Registration {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: { pre_start_required: boolean; get_preferred_allocation_available: boolean };
}

/** A Registration server; `registrations` fills as plugins register. */
export async function serveRegistration(socket: string): Promise<{
  registrations: Registration[];
  stop(): Promise<void>;
}> {
  const registrations: Registration[] = [];
  const server = new grpc.Server();
  server.addService(deviceAPI().Registration.service, {
    Register: (
      call: grpc.ServerUnaryCall<Registration, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      registrations.push(call.request);
      cb(null, {});
    },
  });
  await rm(socket, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    registrations,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

/** A DevicePlugin client on the plugin's socket. */
export function devicePluginClient(socket: string) {
  const client = new (deviceAPI().DevicePlugin)(
    `unix://${socket}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client &
    Record<string, Unary> & {
      ListAndWatch(req: unknown): grpc.ClientReadableStream<{ devices: ApiDevice[] }>;
    };
  const unary = <T>(method: string, req: unknown) =>
    new Promise<T>((resolve, reject) =>
      (client[method] as Unary).call(client, req, (err, res) =>
        err ? reject(err) : resolve(res as T),
      ),
    );
  return {
    options: () =>
      unary<{ get_preferred_allocation_available: boolean }>("GetDevicePluginOptions", {}),
    preferred: (available: string[], size: number, mustInclude: string[] = []) =>
      unary<{ container_responses: { deviceIDs: string[] }[] }>("GetPreferredAllocation", {
        container_requests: [
          {
            available_deviceIDs: available,
            must_include_deviceIDs: mustInclude,
            allocation_size: size,
          },
        ],
      }),
    allocate: (ids: string[]) =>
      unary<{
        container_responses: {
          envs: Record<string, string>;
          devices: { container_path: string; host_path: string; permissions: string }[];
        }[];
      }>("Allocate", { container_requests: [{ devices_ids: ids }] }),
    /** ListAndWatch; each message's devices go to `onList`. */
    watch(onList: (devices: ApiDevice[]) => void) {
      const stream = client.ListAndWatch({});
      stream.on("data", (m: { devices: ApiDevice[] }) => onList(m.devices));
      stream.on("error", () => undefined); // cancelled at close
      return () => stream.cancel();
    },
    close: () => client.close(),
  };
}
