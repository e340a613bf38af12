/**
 * Forwards HTTP/2 client requests to an upstream over cleartext HTTP/2 (h2c prior knowledge, which
 * envd serves on its port): one multiplexed session per pod address, streams piped with
 * back-pressure, trailers (gRPC's status) passed on, resets propagated both ways.
 */
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from "node:http2";
import { destroyResponse, sendError } from "./errors.js";
import { countBytes, hostForUrl, type Exchange, type UpstreamAddress } from "./exchange.js";
import {
  requestHeadersUpstream,
  responseHeadersDownstream,
  trailersDownstream,
} from "./headers.js";

/** Sessions to upstreams, reused across requests. */
export interface Http2Upstreams {
  /** The open session to `addr`, connecting when there is none (or it is closing). */
  session(addr: UpstreamAddress): ClientHttp2Session;
  /** Closes every session (gracefully, then by force after `graceMs`). */
  close(graceMs: number): Promise<void>;
}

/** An idle upstream session is closed after this long (the next request opens a new one). */
const IDLE_SESSION_MS = 60_000;

/** Creates the session pool. */
export function createHttp2Upstreams(): Http2Upstreams {
  const sessions = new Map<string, ClientHttp2Session>();
  return {
    session(addr) {
      const key = `${addr.host}|${addr.port}`;
      const open = sessions.get(key);
      if (open && !open.closed && !open.destroyed) return open;
      const s = connect(`http://${hostForUrl(addr.host)}:${addr.port}`);
      sessions.set(key, s);
      const forget = () => {
        if (sessions.get(key) === s) sessions.delete(key);
      };
      // Connection errors reach the streams on it; the session's own event only needs a listener.
      s.on("error", forget);
      s.once("goaway", forget);
      s.once("close", forget);
      s.setTimeout(IDLE_SESSION_MS, () => s.close());
      return s;
    },
    async close(graceMs) {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(
        all.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              const timer = setTimeout(() => s.destroy(), graceMs);
              s.close(() => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
    },
  };
}

/**
 * Sends an HTTP/2 client's request `ex` upstream over h2c. Outcomes as for HTTP/1.1: `forwarded`,
 * `upstream_error` (502 before the answer began, a reset stream after), `client_aborted` (the
 * upstream stream is cancelled).
 */
export function forwardHttp2(ex: Exchange, upstreams: Http2Upstreams): void {
  const req = ex.req;
  const res = ex.res as Http2ServerResponse;
  const headers = requestHeadersUpstream(req.headers, ex.forwarded);
  let completed = false;
  let up: ClientHttp2Stream;
  try {
    up = upstreams.session(ex.target).request({
      ...headers,
      ":method": req.method ?? "GET",
      ":path": req.url ?? "/",
      ":scheme": "http",
      ":authority": ex.authority ?? `${hostForUrl(ex.target.host)}:${ex.target.port}`,
    });
  } catch (err) {
    // A session that went away between the lookup and the request throws synchronously.
    ex.finish("upstream_error");
    sendError(
      res,
      502,
      `${ex.upstreamName}: port ${ex.target.port} is not reachable: ${String(err)}`,
    );
    return;
  }

  const fail = (why: string) => {
    if (completed) return;
    completed = true;
    ex.log.warn("upstream stream failed", { upstream: ex.upstreamName, port: ex.target.port, why });
    ex.finish("upstream_error");
    if (res.headersSent) destroyResponse(res);
    else sendError(res, 502, `${ex.upstreamName}: port ${ex.target.port} is not reachable: ${why}`);
  };

  res.once("close", () => {
    if (completed) return;
    completed = true;
    ex.finish("client_aborted");
    up.close(constants.NGHTTP2_CANCEL);
  });
  req.on("error", () => up.close(constants.NGHTTP2_CANCEL));

  up.on("error", (err: Error) => fail(err.message));
  up.once("close", () => {
    if (!completed) fail(`stream closed (code ${up.rstCode ?? "?"})`);
  });

  up.once("response", (h: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number) => {
    ex.metrics.upstreamLatency.observe(
      { upstream: "http2" },
      (performance.now() - ex.startedAt) / 1000,
    );
    const status = Number(h[":status"] ?? 502);
    const out = responseHeadersDownstream(h);
    if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
      // Headers-only answer (gRPC "trailers-only"): keep it one HEADERS frame with END_STREAM, as
      // gRPC clients read the status from it. The compat API does exactly that when end() sends
      // headers that were not written yet.
      completed = true;
      res.statusCode = status;
      for (const [k, v] of Object.entries(out)) if (v !== undefined) res.setHeader(k, v);
      res.end();
      ex.finish("forwarded");
      up.resume(); // nothing to read, but the stream only closes once its end is consumed
      return;
    }
    res.writeHead(status, out);
    up.pipe(res, { end: false });
    countBytes(up, ex.metrics, "out");
  });

  let trailers: IncomingHttpHeaders | undefined;
  up.once("trailers", (t: IncomingHttpHeaders) => (trailers = t));
  up.once("end", () => {
    if (completed) return;
    completed = true;
    if (trailers) {
      const t = trailersDownstream(trailers);
      if (Object.keys(t).length > 0) res.addTrailers(t);
    }
    res.end();
    ex.finish("forwarded");
  });

  req.pipe(up);
  countBytes(req, ex.metrics, "in");
}
