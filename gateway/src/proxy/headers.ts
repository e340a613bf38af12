/**
 * Header rewriting for the proxy hop: hop-by-hop headers dropped in both directions, the routing
 * headers removed, `X-Forwarded-For/Proto/Host` set. Pure.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { ROUTING_HEADERS } from "./routing.js";

/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1, plus the legacy
 * `keep-alive`/`proxy-connection` and HTTP/2's `http2-settings`); HTTP/2 refuses most of them.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** Who sent a request and how, for the `X-Forwarded-*` headers. */
export interface ForwardedContext {
  /** The client's address as the front door saw it; undefined when unknown. */
  clientIp: string | undefined;
  /** The scheme the client used to reach the front door. */
  proto: "http" | "https";
  /** The Host (or `:authority`) the client asked for. */
  host: string | undefined;
}

/**
 * The headers to send upstream: the client's, less hop-by-hop ones (and those its `Connection`
 * header names), pseudo-headers, `host` (the caller sets it for its protocol), `expect` (the front
 * door has answered it already) and the routing headers; plus `X-Forwarded-*`. `te: trailers` is
 * kept: gRPC needs it end to end. With `upgrade`, `Connection: upgrade` and `Upgrade` are kept for
 * a WebSocket (or other protocol switch) that is tunnelled as a whole.
 */
export function requestHeadersUpstream(
  incoming: IncomingHttpHeaders,
  ctx: ForwardedContext,
  opts: { upgrade?: boolean } = {},
): OutgoingHttpHeaders {
  const named = connectionTokens(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(incoming)) {
    if (value === undefined || key.startsWith(":")) continue;
    if (key === "host" || key === "expect") continue;
    if (key === ROUTING_HEADERS.sandboxId || key === ROUTING_HEADERS.sandboxPort) continue;
    if (key === "te") {
      if (headerText(value).toLowerCase().trim() === "trailers") out.te = "trailers";
      continue;
    }
    if (opts.upgrade && key === "upgrade") {
      out.upgrade = headerText(value);
      continue;
    }
    if (HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  if (opts.upgrade) out.connection = "upgrade";
  const prior = incoming["x-forwarded-for"];
  if (ctx.clientIp) {
    const ip = ctx.clientIp.startsWith("::ffff:") ? ctx.clientIp.slice(7) : ctx.clientIp;
    out["x-forwarded-for"] = prior ? `${headerText(prior)}, ${ip}` : ip;
  }
  out["x-forwarded-proto"] = ctx.proto;
  if (ctx.host) out["x-forwarded-host"] = ctx.host;
  return out;
}

/**
 * The upstream response's headers to send to the client: hop-by-hop ones (and those named by its
 * `Connection` header) and pseudo-headers dropped; the front door's server frames the body itself.
 */
export function responseHeadersDownstream(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(upstream)) {
    if (value === undefined || key.startsWith(":")) continue;
    if (HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/**
 * Trailers to pass on: pseudo-headers and hop-by-hop names dropped (they are not allowed in a
 * trailer section).
 */
export function trailersDownstream(trailers: Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(trailers)) {
    if (value === undefined || key.startsWith(":") || HOP_BY_HOP.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/** The header names a `Connection` header lists (lower-cased), which are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  if (value === undefined) return new Set();
  return new Set(
    headerText(value)
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ""),
  );
}

function headerText(value: string | string[] | number): string {
  return Array.isArray(value) ? value.join(", ") : String(value);
}
