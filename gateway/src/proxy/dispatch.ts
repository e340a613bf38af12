/**
 * The one dispatch every listener shares: route, resolve the sandbox from the cache, pick the
 * upstream protocol, forward; or hand the request to the REST API.
 *
 * Upstream protocol rule: HTTP/1.1 clients are forwarded over HTTP/1.1 (keep-alive agent). HTTP/2
 * clients are forwarded over h2c when they talk to envd's port (envd serves h2c there) or send gRPC
 * (which needs HTTP/2 trailers end to end), and over HTTP/1.1 otherwise, since a user's server on
 * another port may not speak h2c.
 *
 * The REST API handler (express, HTTP/1-only) gets HTTP/1.1 requests directly; HTTP/2 requests for
 * it are bridged: forwarded over HTTP/1.1 to an in-process server running the same handler, through
 * an in-memory connection (no port). Express therefore always sees a real IncomingMessage.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { duplexPair, type Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../../lib/log.js";
import { ENVD_PORT } from "../sandboxes/sandbox-state.js";
import { destroyResponse, sendError, sendErrorOnSocket, type AnyServerResponse } from "./errors.js";
import type { AnyServerRequest, Exchange } from "./exchange.js";
import { forwardHttp1 } from "./forward-http1.js";
import { createHttp2Upstreams, forwardHttp2 } from "./forward-http2.js";
import type { ForwardedContext } from "./headers.js";
import type { ProxyMetrics, ProxyOutcome, ProxyProtocol } from "./metrics.js";
import { ROUTING_HEADERS, routeRequest } from "./routing.js";
import { TargetUnavailableError, type ResolveTarget } from "./target.js";
import { tunnelUpgrade } from "./upgrade.js";
import type { SandboxStreams } from "./sandbox-streams.js";

/** The request handlers the listeners call, and the upstream connections they hold. */
export interface Dispatcher {
  /** An HTTP/1.1 request. */
  http1(req: IncomingMessage, res: ServerResponse): void;
  /** An HTTP/2 request (compatibility API). */
  http2(req: Http2ServerRequest, res: Http2ServerResponse): void;
  /** An HTTP/1.1 `Upgrade` request (its socket is ours from here on). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes upstream connections: keep-alive sockets at once, HTTP/2 sessions within `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Creates the dispatcher. */
export function createDispatcher(opts: {
  domain: string;
  resolve: ResolveTarget;
  apiHandler: (req: IncomingMessage, res: ServerResponse) => void;
  metrics: ProxyMetrics;
  log: Logger;
  /** Open exchanges by sandbox, cut when their sandbox is deleted. */
  streams?: SandboxStreams;
}): Dispatcher {
  const { metrics, log } = opts;
  // Long-lived streams are normal (command output); the agent's timeout only reaps idle sockets.
  const agent = new Agent({ keepAlive: true, timeout: 30_000, maxFreeSockets: 256 });
  const h2Upstreams = createHttp2Upstreams();
  const apiBridge = createServer({ requestTimeout: 0 }, opts.apiHandler);

  const outcomeOnce = (protocol: ProxyProtocol) => {
    let done = false;
    return (outcome: ProxyOutcome) => {
      if (done) return;
      done = true;
      metrics.requests.inc({ protocol, outcome });
    };
  };

  const handle = async (
    req: AnyServerRequest,
    res: AnyServerResponse,
    protocol: "http1" | "http2",
  ): Promise<void> => {
    const startedAt = performance.now();
    const finish = outcomeOnce(protocol);
    req.on("error", () => undefined); // a client reset surfaces as the response's close
    const authority = authorityOf(req);
    const route = routeRequest(
      {
        host: authority,
        sandboxIdHeader: req.headers[ROUTING_HEADERS.sandboxId],
        sandboxPortHeader: req.headers[ROUTING_HEADERS.sandboxPort],
      },
      opts.domain,
    );
    const forwarded = forwardedContext(req, authority);
    const base = { req, res, protocol, forwarded, authority, startedAt, metrics, log, finish };

    if (route.kind === "invalid") {
      finish("bad_request");
      return sendError(res, 400, route.message);
    }
    if (route.kind === "api") {
      finish("api");
      if (protocol === "http1")
        return opts.apiHandler(req as IncomingMessage, res as ServerResponse);
      const ex: Exchange = { ...base, upstreamName: "api", target: { host: "localhost", port: 0 } };
      return forwardHttp1(ex, { createConnection: () => bridgeConnection(apiBridge) });
    }

    // A resume can take seconds; the client may leave meanwhile (and its close event with it).
    let gone = false;
    res.once("close", () => (gone = true));
    let host: string;
    try {
      host = (await opts.resolve(route.sandboxId)).host;
    } catch (err) {
      if (!(err instanceof TargetUnavailableError)) throw err;
      finish("unavailable");
      return sendError(res, 502, err.message, err.notFoundId);
    }
    if (gone) return finish("client_aborted");
    // Cut when the sandbox is deleted meanwhile (E2B's behaviour; see sandbox-streams.ts).
    const release = opts.streams?.track(route.sandboxId, () => destroyResponse(res));
    if (release) res.once("close", release);
    const ex: Exchange = {
      ...base,
      upstreamName: `sandbox ${route.sandboxId}`,
      target: { host, port: route.port },
    };
    if (protocol === "http2" && (route.port === ENVD_PORT || isGrpc(req)))
      return forwardHttp2(ex, h2Upstreams);
    return forwardHttp1(ex, { agent });
  };

  const guarded = (req: AnyServerRequest, res: AnyServerResponse, protocol: "http1" | "http2") => {
    handle(req, res, protocol).catch((err: unknown) => {
      log.error("front door: request failed", { err: err instanceof Error ? err : String(err) });
      sendError(res, 500, "internal error in the gateway's front door");
    });
  };

  return {
    http1: (req, res) => guarded(req, res, "http1"),
    http2: (req, res) => guarded(req, res, "http2"),
    upgrade(req, socket, head) {
      const finish = outcomeOnce("upgrade");
      socket.on("error", () => socket.destroy());
      const authority = req.headers.host;
      const route = routeRequest(
        {
          host: authority,
          sandboxIdHeader: req.headers[ROUTING_HEADERS.sandboxId],
          sandboxPortHeader: req.headers[ROUTING_HEADERS.sandboxPort],
        },
        opts.domain,
      );
      if (route.kind === "invalid") {
        finish("bad_request");
        return sendErrorOnSocket(socket, 400, route.message);
      }
      if (route.kind === "api") {
        finish("api");
        return sendErrorOnSocket(socket, 404, "the API does not take protocol upgrades");
      }
      opts.resolve(route.sandboxId).then(
        ({ host }) => {
          const release = opts.streams?.track(route.sandboxId, () => socket.destroy());
          if (release) socket.once("close", release);
          return tunnelUpgrade({
            req,
            client: socket,
            head,
            target: { host, port: route.port },
            upstreamName: `sandbox ${route.sandboxId}`,
            forwarded: forwardedContext(req, authority),
            metrics,
            log,
            finish,
          });
        },
        (err: unknown) => {
          finish("unavailable");
          sendErrorOnSocket(
            socket,
            502,
            err instanceof Error ? err.message : String(err),
            err instanceof TargetUnavailableError ? err.notFoundId : undefined,
          );
        },
      );
    },
    async close(graceMs) {
      agent.destroy();
      apiBridge.closeAllConnections();
      await h2Upstreams.close(graceMs);
    },
  };
}

/** One in-memory connection into the in-process API server; returns the client's end. */
function bridgeConnection(server: ReturnType<typeof createServer>): Duplex {
  const [client, serverSide] = duplexPair();
  server.emit("connection", serverSide);
  return client;
}

/** The Host, or for HTTP/2 the `:authority` (Host as a fallback). */
function authorityOf(req: AnyServerRequest): string | undefined {
  const authority = req.headers[":authority"];
  return typeof authority === "string" && authority !== "" ? authority : req.headers.host;
}

function forwardedContext(req: AnyServerRequest, host: string | undefined): ForwardedContext {
  const socket = req.socket as Partial<TLSSocket> | undefined;
  return {
    clientIp: socket?.remoteAddress,
    proto: socket?.encrypted ? "https" : "http",
    host,
  };
}

function isGrpc(req: AnyServerRequest): boolean {
  const type = req.headers["content-type"] ?? "";
  return type.startsWith("application/grpc") && !type.startsWith("application/grpc-web");
}
