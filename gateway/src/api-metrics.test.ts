import { Registry } from "prom-client";
import type { AuditLog, AuditRecord } from "./audit.js";
import { withApiMetrics } from "./api-metrics.js";

const record = (over: Partial<AuditRecord>): AuditRecord => ({
  ts: "2026-01-01T00:00:00Z",
  keyName: "k",
  team: "t",
  method: "GET",
  route: "/sandboxes/:sandboxID",
  sandboxID: "abc",
  status: 200,
  durationMs: 12,
  remote: "127.0.0.1",
  ...over,
});

test("every audit record is counted and timed, and still written", async () => {
  const written: AuditRecord[] = [];
  const inner: AuditLog = { write: (r) => void written.push(r), close: async () => undefined };
  const registry = new Registry();
  const audit = withApiMetrics(inner, registry);
  audit.write(record({}));
  audit.write(record({ status: 404 }));
  audit.write(record({ method: "POST", route: "/v2/sandboxes", status: 201, durationMs: 3000 }));
  expect(written).toHaveLength(3);
  const text = await registry.metrics();
  expect(text).toContain(
    'soulbox_gateway_api_requests_total{method="GET",route="/sandboxes/:sandboxID",status="200"} 1',
  );
  expect(text).toContain(
    'soulbox_gateway_api_requests_total{method="GET",route="/sandboxes/:sandboxID",status="404"} 1',
  );
  expect(text).toContain(
    'soulbox_gateway_api_request_seconds_bucket{le="2.5",method="POST",route="/v2/sandboxes"} 0',
  );
  expect(text).toContain(
    'soulbox_gateway_api_request_seconds_bucket{le="5",method="POST",route="/v2/sandboxes"} 1',
  );
});
