/**
 * Forwards one request (from an HTTP/1.1 or an HTTP/2 client) to an upstream over HTTP/1.1, streaming
 * both bodies with back-pressure (pipe; nothing is buffered whole) and passing trailers on.
 */
import { request, type Agent, type ClientRequest } from "node:http";
import type { Duplex } from "node:stream";
import { destroyResponse, sendError, writeHead } from "./errors.js";
import { countBytes, type Exchange } from "./exchange.js";
import {
  requestHeadersUpstream,
  responseHeadersDownstream,
  trailersDownstream,
} from "./headers.js";

/** How to reach the upstream: a keep-alive agent, or a connection factory (the in-process API). */
export type Http1Connector = { agent: Agent } | { createConnection: () => Duplex };

/**
 * Sends `ex` upstream over HTTP/1.1. Outcomes: `forwarded` once the upstream's answer has been passed
 * on in full; `upstream_error` (502 before the answer began, a cut stream after); `client_aborted`
 * when the client goes away first, which aborts the upstream request too.
 */
export function forwardHttp1(ex: Exchange, connector: Http1Connector): void {
  const { req, res } = ex;
  const headers = requestHeadersUpstream(req.headers, ex.forwarded);
  if (ex.authority) headers.host = ex.authority;
  let completed = false;
  const upReq: ClientRequest = request({
    host: ex.target.host,
    port: ex.target.port,
    method: req.method,
    path: req.url,
    headers,
    setHost: !ex.authority,
    ...connector,
  });

  res.once("close", () => {
    if (completed) return;
    // The client left before the answer was complete: the upstream must see it too.
    completed = true;
    ex.finish("client_aborted");
    upReq.destroy();
  });
  req.on("error", () => upReq.destroy());

  upReq.once("error", (err) => {
    if (completed) return;
    ex.log.warn("upstream request failed", {
      upstream: ex.upstreamName,
      port: ex.target.port,
      err,
    });
    completed = true;
    ex.finish("upstream_error");
    sendError(
      res,
      502,
      `${ex.upstreamName}: port ${ex.target.port} is not reachable: ${err.message}`,
    );
  });

  upReq.once("response", (upRes) => {
    ex.metrics.upstreamLatency.observe(
      { upstream: "http1" },
      (performance.now() - ex.startedAt) / 1000,
    );
    upRes.on("error", () => undefined); // seen as an incomplete close below
    upRes.once("close", () => {
      // The upstream broke off mid-body; the client must not take a truncated body for a whole one.
      if (completed || upRes.complete) return;
      completed = true;
      ex.log.warn("upstream broke off a response", { upstream: ex.upstreamName });
      ex.finish("upstream_error");
      destroyResponse(res);
    });
    writeHead(res, upRes.statusCode ?? 502, responseHeadersDownstream(upRes.headers));
    upRes.pipe(res, { end: false });
    countBytes(upRes, ex.metrics, "out");
    upRes.once("end", () => {
      if (completed) return;
      completed = true;
      const trailers = trailersDownstream(upRes.trailers);
      if (Object.keys(trailers).length > 0) res.addTrailers(trailers);
      res.end();
      ex.finish("forwarded");
    });
  });

  req.pipe(upReq);
  countBytes(req, ex.metrics, "in");
}
