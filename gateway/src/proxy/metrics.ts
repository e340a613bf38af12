/** The front door's Prometheus metrics, on a registry the caller injects (or one of their own). */
import { Counter, Histogram, Registry } from "prom-client";

/**
 * How a request through the front door ended. `forwarded`: an upstream answered and the answer
 * was passed on in full; `api`: handed to the REST API; `bad_request`: routing input refused (400);
 * `unavailable`: the sandbox is unknown, paused, expired or failed (502); `upstream_error`: the pod
 * could not be reached or broke off (502 or a cut stream); `client_aborted`: the client went away
 * first (the upstream request was aborted too).
 */
export type ProxyOutcome =
  "forwarded" | "api" | "bad_request" | "unavailable" | "upstream_error" | "client_aborted";

/** The protocol the client spoke: HTTP/1.1, HTTP/2, or an upgraded (WebSocket) tunnel. */
export type ProxyProtocol = "http1" | "http2" | "upgrade";

/** The front door's metrics. */
export interface ProxyMetrics {
  registry: Registry;
  /** Requests by client protocol and outcome. */
  requests: Counter<"protocol" | "outcome">;
  /** Body bytes through the proxy: `in` from clients to sandboxes, `out` from sandboxes to clients. */
  bytes: Counter<"direction">;
  /** Time from a request's arrival to the upstream's response headers, by upstream protocol. */
  upstreamLatency: Histogram<"upstream">;
  /** Auto-resumes the front door asked for, by result (`ok`, `error`). */
  resumes: Counter<"result">;
}

/** Creates the metrics (names `soulbox_gateway_proxy_*`) on `registry`, or on a new one. */
export function createProxyMetrics(registry: Registry = new Registry()): ProxyMetrics {
  return {
    registry,
    requests: new Counter({
      name: "soulbox_gateway_proxy_requests_total",
      help: "Requests through the gateway's front door, by client protocol and outcome.",
      labelNames: ["protocol", "outcome"],
      registers: [registry],
    }),
    bytes: new Counter({
      name: "soulbox_gateway_proxy_bytes_total",
      help: "Body bytes proxied to sandboxes (in) and back to clients (out).",
      labelNames: ["direction"],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: "soulbox_gateway_proxy_upstream_response_seconds",
      help: "Time from a request's arrival to the sandbox's response headers, by upstream protocol.",
      labelNames: ["upstream"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    resumes: new Counter({
      name: "soulbox_gateway_proxy_resumes_total",
      help: "Paused auto-resume sandboxes that a request resumed, by result.",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}
