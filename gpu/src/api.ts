/**
 * The kubelet's device-plugin API v1beta1 (gpu/proto/api.proto, a copy of
 * k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1), loaded at runtime with proto-loader, and the
 * message shapes this plugin uses (proto field names: `keepCase`).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The API version the kubelet is told (RegisterRequest.version). */
export const API_VERSION = "v1beta1";
/** Device health values (pluginapi.Healthy / Unhealthy). */
export const HEALTHY = "Healthy";
export const UNHEALTHY = "Unhealthy";
/** Where the kubelet listens for registrations (pluginapi.KubeletSocket: fixed, whatever its --root-dir). */
export const DEFAULT_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";
/** The kubelet's registration socket's name in the plugin dir. */
export const KUBELET_SOCKET = "kubelet.sock";

/** Device as ListAndWatch sends it. */
export interface ApiDevice {
  ID: string;
  health: string;
  topology?: { nodes: { ID: number }[] };
}

/**
 * The .proto: beside the sources (gpu/proto), or beside a bundle (dist/gpu-plugin.proto, copied
 * by scripts/build.mjs), or where SOULBOX_GPU_PROTO says.
 */
function protoPath(): string {
  const candidates = [
    process.env.SOULBOX_GPU_PROTO,
    fileURLToPath(new URL("../proto/api.proto", import.meta.url)),
    fileURLToPath(new URL("./gpu-plugin.proto", import.meta.url)),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the device-plugin .proto is not at any of ${candidates.join(", ")}`);
  return found;
}

let loaded: grpc.GrpcObject | undefined;

/** The loaded `v1beta1` package: `.DevicePlugin` and `.Registration` (service and client constructors). */
export function deviceAPI(): {
  DevicePlugin: grpc.ServiceClientConstructor;
  Registration: grpc.ServiceClientConstructor;
} {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(protoPath(), {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
  const pkg = loaded.v1beta1 as grpc.GrpcObject;
  return {
    DevicePlugin: pkg.DevicePlugin as grpc.ServiceClientConstructor,
    Registration: pkg.Registration as grpc.ServiceClientConstructor,
  };
}
