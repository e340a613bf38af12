/**
 * HTTP/1.1 `Upgrade` (WebSocket) to a sandbox port: the request head is rewritten and sent to the
 * pod, and from then on the two sockets are joined byte for byte (the upstream's `101` included),
 * with back-pressure both ways. Either side closing closes the other.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../../../lib/log.js";
import { sendErrorOnSocket } from "./errors.js";
import type { UpstreamAddress } from "./exchange.js";
import { requestHeadersUpstream, type ForwardedContext } from "./headers.js";
import type { ProxyMetrics, ProxyOutcome } from "./metrics.js";

/** Serialises a request head for the upstream. Values come from Node's parser or from us: no CR/LF. */
export function requestHead(method: string, path: string, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${key}: ${String(v)}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Tunnels an upgrade request to `target`. `finish` gets `forwarded` when both sides closed after
 * the tunnel was up, `upstream_error` when the pod could not be reached (the client gets a 502).
 */
export function tunnelUpgrade(opts: {
  req: IncomingMessage;
  client: Duplex;
  head: Buffer;
  target: UpstreamAddress;
  upstreamName: string;
  forwarded: ForwardedContext;
  metrics: ProxyMetrics;
  log: Logger;
  finish: (outcome: ProxyOutcome) => void;
}): void {
  const { req, client, target } = opts;
  const headers = requestHeadersUpstream(req.headers, opts.forwarded, { upgrade: true });
  headers.host = req.headers.host ?? `${target.host}:${target.port}`;
  const upstream = connect({ host: target.host, port: target.port, noDelay: true });
  let connected = false;

  client.on("error", () => upstream.destroy());
  client.once("close", () => {
    if (!connected) opts.finish("client_aborted");
    upstream.destroy();
  });
  upstream.on("error", (err) => {
    if (connected) return client.destroy();
    opts.log.warn("upgrade: upstream not reachable", {
      upstream: opts.upstreamName,
      port: target.port,
      err,
    });
    opts.finish("upstream_error");
    sendErrorOnSocket(
      client,
      502,
      `${opts.upstreamName}: port ${target.port} is not reachable: ${err.message}`,
    );
  });
  upstream.once("close", () => {
    if (connected) opts.finish("forwarded");
    client.destroy();
  });
  upstream.once("connect", () => {
    connected = true;
    upstream.write(requestHead(req.method ?? "GET", req.url ?? "/", headers));
    if (opts.head.length > 0) upstream.write(opts.head);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("data", (c: Buffer) => opts.metrics.bytes.inc({ direction: "in" }, c.length));
    upstream.on("data", (c: Buffer) => opts.metrics.bytes.inc({ direction: "out" }, c.length));
  });
}
