import { chmod, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { createServer, type Http2Server } from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createMetricsReader } from "../os/cgroup-metrics.js";
import type { ExecutorContext } from "./context.js";
import { filesystemService } from "./filesystem/service.js";
import { createExecutorHttp } from "./http/routes.js";
import { Filesystem } from "../../../api/gen/envd/filesystem/filesystem_pb.js";
import { Process } from "../../../api/gen/envd/process/process_pb.js";
import { processService } from "./process/service.js";
import { Runtime } from "../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { runtimeService } from "./runtime/service.js";

/**
 * Serves the executor's RPC services and its internal HTTP routes as h2c on a
 * unix socket that only root may open; the envd sidecar is its only client.
 */
export async function listenExecutor(
  ctx: ExecutorContext,
  socketPath: string,
): Promise<Http2Server> {
  const http = createExecutorHttp(ctx, createMetricsReader());
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(Process, processService(ctx));
      router.service(Filesystem, filesystemService(ctx));
      router.service(Runtime, runtimeService(ctx));
    },
    fallback: (req, res) => void http(req, res),
    // The sidecar enforces the client's deadline; we still read it to kill processes.
    shutdownSignal: undefined,
  });
  // Wide flow-control windows, as on the sidecar's side of the link (see LINK_STREAM_WINDOW
  // there): uploads then stream without waiting a round trip per 64 KiB.
  const server = createServer(
    { settings: { maxConcurrentStreams: 10_000, initialWindowSize: 8 << 20 } },
    handler,
  );
  server.on("session", (session) => session.setLocalWindowSize(64 << 20));
  await listenOn(server, socketPath);
  return server;
}

/**
 * (Re)binds `server` to the unix socket `socketPath` (a stale file there is removed, a missing
 * folder made), mode 0600.
 */
export async function listenOn(server: Http2Server, socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
}
