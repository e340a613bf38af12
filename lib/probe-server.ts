import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** What the probe server reports. */
export interface ProbeState {
  /** Liveness: false only when the process should be restarted. */
  healthy(): boolean;
  /** Readiness: caches synced (a standby replica is ready too: it can take over at once). */
  ready(): boolean;
}

/**
 * Serves GET /healthz and GET /readyz, and GET /metrics when given a registry,
 * on one port. Resolves with the server once it listens.
 */
export async function serveProbes(
  port: number,
  routes: { probes?: ProbeState; metrics?: Registry },
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://probes").pathname;
    const answer = (ok: boolean, what: string) => {
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok ? "ok\n" : `${what}\n`);
    };
    if (req.method === "GET" && path === "/healthz" && routes.probes)
      return answer(routes.probes.healthy(), "unhealthy");
    if (req.method === "GET" && path === "/readyz" && routes.probes)
      return answer(routes.probes.ready(), "caches are not synced yet");
    if (req.method === "GET" && path === "/metrics" && routes.metrics) {
      const registry = routes.metrics;
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`collecting metrics failed: ${String(err)}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(`no route for ${req.method} ${path}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  return server;
}
