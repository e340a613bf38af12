/** One client request on its way to an upstream: what both forwarders need to know about it. */
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Readable } from "node:stream";
import type { Logger } from "../../../lib/log.js";
import type { AnyServerResponse } from "./errors.js";
import type { ForwardedContext } from "./headers.js";
import type { ProxyMetrics, ProxyOutcome, ProxyProtocol } from "./metrics.js";

/** A server request of either protocol (the HTTP/2 compatibility API is a Readable like HTTP/1's). */
export type AnyServerRequest = IncomingMessage | Http2ServerRequest;

/** Where to send a request: an address and port (a pod IP and a sandbox port). */
export interface UpstreamAddress {
  host: string;
  port: number;
}

/** A request being forwarded. */
export interface Exchange {
  req: AnyServerRequest;
  res: AnyServerResponse;
  /** The protocol the client spoke. */
  protocol: ProxyProtocol;
  /** For logs: the sandbox, or `api` for the REST API bridge. */
  upstreamName: string;
  target: UpstreamAddress;
  forwarded: ForwardedContext;
  /** The Host or `:authority` the client used, passed on unchanged. */
  authority: string | undefined;
  /** `performance.now()` when the request arrived. */
  startedAt: number;
  metrics: ProxyMetrics;
  log: Logger;
  /** Records how the request ended; only the first call counts. */
  finish(outcome: ProxyOutcome): void;
}

/** Counts the bytes of `stream`'s data events on `direction` (listen after piping, see callers). */
export function countBytes(stream: Readable, metrics: ProxyMetrics, direction: "in" | "out"): void {
  stream.on("data", (chunk: Buffer | string) => {
    metrics.bytes.inc(
      { direction },
      typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length,
    );
  });
}

/** `host` as URL authority text: IPv6 addresses in brackets. */
export function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
