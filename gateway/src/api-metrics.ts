/**
 * Prometheus metrics of the REST API, fed from the audit records: the audit line already carries
 * the route pattern, status and duration of every call, so counting them there keeps one source
 * for both and adds no middleware of its own.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { AuditLog, AuditRecord } from "./audit.js";

/** An audit log that also counts every record in `registry`. */
export function withApiMetrics(audit: AuditLog, registry: Registry): AuditLog {
  const requests = new Counter({
    name: "soulbox_gateway_api_requests_total",
    help: "REST API calls by method, route pattern and HTTP status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "soulbox_gateway_api_request_seconds",
    help: "REST API call duration by method and route pattern (creates include waiting for Ready)",
    labelNames: ["method", "route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  return {
    write(record: AuditRecord) {
      requests.inc({ method: record.method, route: record.route, status: String(record.status) });
      duration.observe({ method: record.method, route: record.route }, record.durationMs / 1000);
      audit.write(record);
    },
    close: () => audit.close(),
  };
}
