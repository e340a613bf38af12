/**
 * The gateway's front door: every request enters here. A plain port serves HTTP/1.1 and h2c (prior
 * knowledge: the HTTP/2 preface is sniffed from the first bytes), a TLS port serves HTTP/1.1 and
 * HTTP/2 by ALPN; both hand their connections to the same two servers and the same dispatch.
 * Requests for sandboxes are proxied to their pods, everything else goes to the REST API handler.
 */
import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttp2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Registry } from "prom-client";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import {
  createDualProtocolListener,
  SNIFF_TIMEOUT_MS,
} from "../../../lib/dual-protocol-listener.js";
import type { Logger } from "../../../lib/log.js";
import { createDispatcher } from "./dispatch.js";
import { createProxyMetrics, type ProxyMetrics } from "./metrics.js";
import { createTargetResolver, type SandboxLookup } from "./target.js";
import { withTrafficGate } from "./traffic-gate.js";
import { createSandboxStreams } from "./sandbox-streams.js";

/** How to start the front door. */
export interface FrontDoorOptions {
  /** Address to listen on (default all interfaces). */
  host?: string;
  /** Plain port: HTTP/1.1 and h2c (0 picks a free port). */
  httpPort: number;
  /** TLS port: HTTP/1.1 and HTTP/2 by ALPN; needs `tls`. Absent or undefined: no TLS listener. */
  httpsPort?: number;
  /** The wildcard certificate for `*.{domain}` and its key, PEM. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Sandboxes are reached as `{port}-{sandboxId}.{domain}`. */
  domain: string;
  /** The informer cache of Sandboxes (a SandboxIndex). */
  index: SandboxLookup;
  /** The REST API (HTTP/1.1 requests; HTTP/2 ones are bridged to it, see dispatch.ts). */
  apiHandler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Resumes a paused auto-resume sandbox; resolves with it Ready. Without it they get a 502. */
  resume?: (s: Sandbox) => Promise<Sandbox>;
  log: Logger;
  /** Where the proxy's metrics register (default: a registry of their own). */
  registry?: Registry;
  /** The clock expiry is judged by (tests move it). */
  now?: () => Date;
  /** How long close() lets requests in flight finish before cutting them (default 10 s). */
  closeGraceMs?: number;
}

/** A running front door. */
export interface FrontDoor {
  http: AddressInfo;
  https?: AddressInfo;
  metrics: ProxyMetrics;
  /**
   * Serves a new certificate and key to new TLS connections (a renewed wildcard certificate, e.g.
   * from cert-manager, without a restart); open connections keep theirs. Throws on a bad pair or
   * when there is no TLS listener.
   */
  setTls(tls: { cert: string | Buffer; key: string | Buffer }): void;
  /** Stops listening, ends keep-alive connections and HTTP/2 sessions; resolves once all are gone. */
  close(): Promise<void>;
}

/** Starts the listeners. Rejects when a port cannot be bound (nothing is left listening then). */
export async function startFrontDoor(opts: FrontDoorOptions): Promise<FrontDoor> {
  if (opts.httpsPort !== undefined && !opts.tls)
    throw new Error("front door: an HTTPS port needs a certificate and key (tls)");
  const metrics = createProxyMetrics(opts.registry);
  const log = opts.log.with({ component: "front-door" });
  const streams = createSandboxStreams();
  const unsubscribe = opts.index.subscribe?.((id, s) => streams.changed(id, s));
  const ungated = createDispatcher({
    streams,
    domain: opts.domain,
    resolve: createTargetResolver({
      index: opts.index,
      now: opts.now ?? (() => new Date()),
      resume: opts.resume,
      onResumed: (sandboxId, result, err) => {
        metrics.resumes.inc({ result });
        if (err !== undefined) log.warn("auto-resume failed", { sandboxId, err: errorText(err) });
      },
    }),
    apiHandler: opts.apiHandler,
    metrics,
    log,
  });
  // Sandboxes whose ports need a traffic token (or a Host mask): checked before the dispatch.
  const dispatcher = withTrafficGate(ungated, { domain: opts.domain, index: opts.index });

  // Streams may legitimately run for hours (command output, watches): no request timeout.
  const h1 = createHttp1Server({ requestTimeout: 0, keepAliveTimeout: 65_000 }, dispatcher.http1);
  h1.on("upgrade", dispatcher.upgrade);
  // h1 never listens itself (connections are handed to it), but Node's HTTP server only starts
  // tracking connections (headersTimeout enforcement, closeIdleConnections) on "listening".
  h1.emit("listening");
  const h2 = createHttp2Server({ settings: { maxConcurrentStreams: 1000 } }, dispatcher.http2);
  h2.setTimeout(0);
  const h2Sessions = new Set<ServerHttp2Session>();
  h2.on("session", (s: ServerHttp2Session) => {
    h2Sessions.add(s);
    s.once("close", () => h2Sessions.delete(s));
  });

  const sockets = new Set<Socket>();
  const track = (server: Server) =>
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });

  const plain = createDualProtocolListener({ http1: h1, http2: h2 });
  track(plain);

  let secure: Server | undefined;
  let tlsServer: ReturnType<typeof createTlsServer> | undefined;
  if (opts.httpsPort !== undefined && opts.tls) {
    tlsServer = createTlsServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ALPNProtocols: ["h2", "http/1.1"],
      handshakeTimeout: SNIFF_TIMEOUT_MS,
    });
    tlsServer.on("secureConnection", (socket: TLSSocket) => {
      socket.setNoDelay(true);
      (socket.alpnProtocol === "h2" ? h2 : h1).emit("connection", socket);
    });
    tlsServer.on("tlsClientError", (err) => log.debug("TLS handshake failed", { err }));
    secure = tlsServer;
    track(secure);
  }

  const listening: Server[] = [];
  try {
    listening.push(await listen(plain, opts.httpPort, opts.host));
    if (secure) listening.push(await listen(secure, opts.httpsPort ?? 0, opts.host));
  } catch (err) {
    for (const s of listening) s.close();
    await dispatcher.close(0);
    throw new Error(`front door: cannot listen: ${(err as Error).message}`, { cause: err });
  }
  const grace = opts.closeGraceMs ?? 10_000;
  log.info("front door listening", {
    http: plain.address(),
    https: secure?.address(),
    domain: opts.domain,
  });

  let closing: Promise<void> | undefined;
  return {
    http: plain.address() as AddressInfo,
    https: secure ? (secure.address() as AddressInfo) : undefined,
    metrics,
    setTls(tls) {
      if (!tlsServer) throw new Error("front door: there is no TLS listener");
      tlsServer.setSecureContext({ cert: tls.cert, key: tls.key });
    },
    close() {
      closing ??= (async () => {
        unsubscribe?.();
        const closed = listening.map((s) => new Promise<void>((r) => s.close(() => r())));
        // Idle keep-alive connections go now, busy ones as soon as their response is done; HTTP/2
        // sessions get a GOAWAY and finish the streams they have.
        for (const s of h2Sessions) s.close();
        const deadline = Date.now() + grace;
        while (sockets.size > 0 && Date.now() < deadline) {
          h1.closeIdleConnections();
          await new Promise((r) => setTimeout(r, 25));
        }
        for (const s of sockets) s.destroy();
        h1.close(); // stops its connection-tracking timer (it reports "not running": it never listened)
        await dispatcher.close(Math.max(0, deadline - Date.now()));
        await Promise.all(closed);
      })();
      return closing;
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function listen(server: Server, port: number, host: string | undefined): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
