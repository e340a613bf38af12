/**
 * The front door's check for sandboxes whose ports are not public (E2B's
 * `network.allowPublicTraffic: false`), and its Host mask (`network.maskRequestHost`), both for a
 * sandbox's own ports only: envd's port has its own access token. It runs before the dispatch, on
 * the cached Sandbox alone, so a refused request never resumes or reaches a sandbox.
 *
 * E2B's answers: 403 with `{sandboxId, message, code}`, the message saying whether the
 * `e2b-traffic-access-token` header was missing or wrong. The Sandbox keeps only the token's
 * SHA-256 (annotation, written by the API when it hands the token out); a sandbox without it yet
 * refuses every request to its ports.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Duplex } from "node:stream";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import {
  TRAFFIC_TOKEN_DIGEST_ANNOTATION,
  TRAFFIC_TOKEN_HEADER,
  maskedHost,
  needsTrafficToken,
  tokenDigest,
} from "../api/network.js";
import { ENVD_PORT } from "../sandboxes/sandbox-state.js";
import type { Dispatcher } from "./dispatch.js";
import { sendErrorOnSocket, writeHead, type AnyServerResponse } from "./errors.js";
import type { AnyServerRequest } from "./exchange.js";
import { ROUTING_HEADERS, routeRequest } from "./routing.js";
import type { SandboxLookup } from "./target.js";

/** What the gate decides for one request. */
export type GateVerdict =
  | { kind: "pass" }
  | { kind: "refuse"; sandboxId: string; message: string }
  | { kind: "mask"; sandboxId: string; port: number; host: string };

/**
 * Decides from the request's routing input, its token header and the cached Sandbox. Pure.
 * Requests that are not for a sandbox's own port pass (the dispatch routes or refuses them).
 */
export function decideGate(
  input: { host: string | undefined; headers: Record<string, string | string[] | undefined> },
  domain: string,
  lookup: (id: string) => Sandbox | undefined,
): GateVerdict {
  const route = routeRequest(
    {
      host: input.host,
      sandboxIdHeader: input.headers[ROUTING_HEADERS.sandboxId],
      sandboxPortHeader: input.headers[ROUTING_HEADERS.sandboxPort],
    },
    domain,
  );
  if (route.kind !== "sandbox" || route.port === ENVD_PORT) return { kind: "pass" };
  const s = lookup(route.sandboxId);
  if (!s) return { kind: "pass" };
  if (needsTrafficToken(s)) {
    const presented = input.headers[TRAFFIC_TOKEN_HEADER];
    if (presented === undefined || presented === "")
      return refuse(route.sandboxId, `Token header '${TRAFFIC_TOKEN_HEADER}' is missing`);
    const want = s.metadata.annotations?.[TRAFFIC_TOKEN_DIGEST_ANNOTATION];
    const got = typeof presented === "string" ? tokenDigest(presented) : "";
    if (!want || !equalText(got, want))
      return refuse(
        route.sandboxId,
        `Provided token in header '${TRAFFIC_TOKEN_HEADER}' is invalid`,
      );
  }
  const mask = s.spec.network?.maskRequestHost;
  if (mask)
    return {
      kind: "mask",
      sandboxId: route.sandboxId,
      port: route.port,
      host: maskedHost(mask, route.port),
    };
  return { kind: "pass" };
}

const refuse = (sandboxId: string, what: string): GateVerdict => ({
  kind: "refuse",
  sandboxId,
  message: `Sandbox is secured with traffic access token. ${what}`,
});

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The dispatcher behind the gate: refused requests get E2B's 403; masked ones are re-routed by
 * the routing headers (so the Host no longer has to carry the route) and carry the mask as their
 * Host (or `:authority`) upstream.
 */
export function withTrafficGate(
  dispatcher: Dispatcher,
  opts: { domain: string; index: SandboxLookup },
): Dispatcher {
  const check = (req: AnyServerRequest): GateVerdict => {
    const authority = req.headers[":authority"];
    const host = typeof authority === "string" && authority !== "" ? authority : req.headers.host;
    const verdict = decideGate({ host, headers: req.headers }, opts.domain, (id) =>
      opts.index.get(id),
    );
    if (verdict.kind === "mask") {
      req.headers[ROUTING_HEADERS.sandboxId] = verdict.sandboxId;
      req.headers[ROUTING_HEADERS.sandboxPort] = String(verdict.port);
      if (typeof authority === "string" && authority !== "")
        req.headers[":authority"] = verdict.host;
      req.headers.host = verdict.host;
    }
    return verdict;
  };
  const answer = (res: AnyServerResponse, v: { sandboxId: string; message: string }) => {
    const body = JSON.stringify({ sandboxId: v.sandboxId, message: v.message, code: 403 });
    writeHead(res, 403, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  };
  return {
    http1(req: IncomingMessage, res: ServerResponse) {
      const v = check(req);
      if (v.kind === "refuse") return answer(res, v);
      dispatcher.http1(req, res);
    },
    http2(req: Http2ServerRequest, res: Http2ServerResponse) {
      const v = check(req);
      if (v.kind === "refuse") return answer(res, v);
      dispatcher.http2(req, res);
    },
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      const v = check(req);
      if (v.kind === "refuse") return sendErrorOnSocket(socket, 403, v.message);
      dispatcher.upgrade(req, socket, head);
    },
    close: (graceMs) => dispatcher.close(graceMs),
  };
}
