import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createDualProtocolListener } from "../../../lib/dual-protocol-listener.js";
import { Filesystem } from "../../../api/gen/envd/filesystem/filesystem_pb.js";
import { Process } from "../../../api/gen/envd/process/process_pb.js";
import { Runtime } from "../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import type { AuditLog } from "./audit.js";
import type { TokenStore } from "./auth.js";
import type { ExecutorLink } from "./executor-link.js";
import { createHttpRoutes } from "./http-routes.js";
import { grpcPercentEncode } from "./grpc-message.js";
import { createNonceCache } from "./nonce-cache.js";
import { authAndAuditInterceptor, forwardingService } from "./rpc-forward.js";
import { createStreamRelay } from "./stream-relay.js";
import type { AnyRequest, AnyResponse } from "../shared/http-util.js";

/** The envd front door, listening. */
export interface SidecarServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves gRPC, gRPC-Web and Connect (JSON and binary) plus envd's HTTP routes
 * on one TCP port, over HTTP/1.1 and cleartext HTTP/2 (h2c prior knowledge):
 * each connection's first bytes decide which Node server takes it.
 */
export async function listenSidecar(opts: {
  port: number;
  host?: string;
  tokens: TokenStore;
  executor: ExecutorLink;
  audit: AuditLog;
}): Promise<SidecarServer> {
  const httpRoutes = createHttpRoutes(
    { tokens: opts.tokens, nonces: createNonceCache(), executor: opts.executor },
    opts.audit,
  );
  const relay = createStreamRelay({
    services: [Process, Filesystem, Runtime],
    tokens: opts.tokens,
    executor: opts.executor,
    audit: opts.audit,
  });
  const adapter = connectNodeAdapter({
    routes(router) {
      router.service(Process, forwardingService(Process, opts.executor.process));
      router.service(Filesystem, forwardingService(Filesystem, opts.executor.filesystem));
      router.service(Runtime, forwardingService(Runtime, opts.executor.runtime));
    },
    interceptors: [authAndAuditInterceptor(opts.tokens, opts.audit)],
    fallback: (req, res) => void httpRoutes(req, res),
  });
  // Server streams go through the byte relay; everything else (and whatever it declines) here.
  const handler = (req: AnyRequest, res: AnyResponse) => {
    if (!relay(req, res)) adapter(req, res);
  };
  // Streams may legitimately run for hours; Node's default request timeouts would cut them.
  const h1: Http1Server = createHttp1Server(
    { requestTimeout: 0, keepAliveTimeout: 65_000 },
    handler,
  );
  h1.timeout = 0;
  const onH2 = (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (isGrpc(req)) respecGrpcMessage(res);
    handler(req, res);
  };
  const h2: Http2Server = createHttp2Server({ settings: { maxConcurrentStreams: 10_000 } }, onH2);
  h2.setTimeout(0);
  const sockets = new Set<Socket>();
  const front: NetServer = createDualProtocolListener({ http1: h1, http2: h2 });
  front.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  const address = front.address();
  return {
    port: typeof address === "object" && address ? address.port : opts.port,
    async close() {
      front.close();
      h1.closeAllConnections();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => h2.close(() => r()));
    },
  };
}

function isGrpc(req: Http2ServerRequest): boolean {
  const type = req.headers["content-type"] ?? "";
  return type.startsWith("application/grpc") && !type.startsWith("application/grpc-web");
}

/** Re-encodes the grpc-message trailer as the gRPC spec asks (see {@link grpcPercentEncode}). */
function respecGrpcMessage(res: Http2ServerResponse): void {
  const addTrailers = res.addTrailers.bind(res);
  res.addTrailers = (trailers) => {
    const message = trailers["grpc-message"];
    if (typeof message === "string") trailers["grpc-message"] = grpcPercentEncode(message);
    addTrailers(trailers);
  };
}
