import type { Sandbox } from "../../../api/gen/crd-types.js";
import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import {
  ANNOTATION_SIZE,
  matchesMetadata,
  sizeOfTemplate,
  toE2bMetric,
  toE2bSandbox,
  toListedSandbox,
  toSandboxDetail,
} from "./e2b-json.js";
import { newSandboxId } from "./ids.js";

const sb = (
  over: Partial<Sandbox["spec"]> = {},
  status: Sandbox["status"] = {},
  annotations: Record<string, string> = {},
): Sandbox =>
  sandboxFixture({
    metadata: {
      name: "abc123",
      creationTimestamp: new Date("2026-01-01T00:00:00Z"),
      annotations: { "soulbox.dev/expires-at": "2026-01-01T00:05:00Z", ...annotations },
    },
    spec: { templateRef: "soulbox-template-base", metadata: { user: "u1" }, ...over },
    status,
  });

test("listed sandbox: ids, times, state and size", () => {
  const listed = toListedSandbox(
    sb(
      {},
      { phase: "Running", startedAt: "2026-01-01T00:00:02Z" },
      { [ANNOTATION_SIZE]: '{"cpuCount":2,"memoryMB":512,"diskSizeMB":0}' },
    ),
  );
  expect(listed).toEqual({
    sandboxID: "abc123",
    templateID: "base",
    alias: "base",
    clientID: "soulbox",
    startedAt: "2026-01-01T00:00:02.000Z",
    endAt: "2026-01-01T00:05:00.000Z",
    state: "running",
    cpuCount: 2,
    memoryMB: 512,
    diskSizeMB: 0,
    metadata: { user: "u1" },
    envdVersion: "0.6.4",
  });
});

test.each([
  [{ phase: "Paused" as const }, {}, "paused"],
  [{ phase: "Pausing" as const }, {}, "paused"],
  [{ phase: "Running" as const }, {}, "running"],
  [{ phase: "Starting" as const }, {}, "running"],
])("state of %j", (status, spec, state) => {
  expect(toListedSandbox(sb(spec, status)).state).toBe(state);
});

test("detail: lifecycle, token and domain; a sandbox made by hand gets defaults", () => {
  const d = toSandboxDetail(
    sb({ onTimeout: "Pause" }, {}, { "soulbox.dev/auto-resume": "true" }),
    "tok",
    "soulbox.test",
  );
  expect(d).toMatchObject({
    envdAccessToken: "tok",
    domain: "soulbox.test",
    lifecycle: { onTimeout: "pause", autoResume: true },
    startedAt: "2026-01-01T00:00:00.000Z",
    cpuCount: 1,
    memoryMB: 0,
  });
  expect(toSandboxDetail(sb(), "t", "d").lifecycle).toEqual({
    onTimeout: "kill",
    autoResume: false,
  });
});

test("create answer", () => {
  expect(toE2bSandbox(sb(), "tok", "soulbox.test")).toEqual({
    sandboxID: "abc123",
    templateID: "base",
    alias: "base",
    clientID: "soulbox",
    envdVersion: "0.6.4",
    envdAccessToken: "tok",
    domain: "soulbox.test",
    trafficAccessToken: null,
  });
});

test.each([
  [{}, { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 }],
  [{ limits: { cpu: "500m", memory: "1Gi" } }, { cpuCount: 1, memoryMB: 1024, diskSizeMB: 0 }],
  [
    { requests: { cpu: 2, memory: "512Mi", "ephemeral-storage": "2Gi" } },
    { cpuCount: 2, memoryMB: 512, diskSizeMB: 2048 },
  ],
  [
    { requests: { cpu: 1 }, limits: { cpu: "2500m" } },
    { cpuCount: 3, memoryMB: 0, diskSizeMB: 0 },
  ],
])("size of template resources %j", (resources, size) => {
  expect(sizeOfTemplate({ image: "x", resources })).toEqual(size);
});

test("metric mapping", () => {
  expect(
    toE2bMetric({
      ts: 1767225600,
      cpu_count: 2,
      cpu_used_pct: 12.5,
      mem_total: 1000,
      mem_used: 10,
      disk_used: 5,
      disk_total: 50,
    }),
  ).toEqual({
    timestamp: "2026-01-01T00:00:00.000Z",
    timestampUnix: 1767225600,
    cpuCount: 2,
    cpuUsedPct: 12.5,
    memUsed: 10,
    memTotal: 1000,
    memCache: 0,
    diskUsed: 5,
    diskTotal: 50,
  });
});

test.each([
  [{}, true],
  [{ user: "u1" }, true],
  [{ user: "u2" }, false],
  [{ user: "u1", app: "x" }, false],
])("metadata filter %j", (filter, match) => {
  expect(matchesMetadata(sb(), filter)).toBe(match);
});

test("ids are 20 characters of [a-z0-9] and differ", () => {
  const ids = new Set(Array.from({ length: 1000 }, newSandboxId));
  expect(ids.size).toBe(1000);
  for (const id of ids) expect(id).toMatch(/^[a-z0-9]{20}$/);
});

test.each([
  ["a template", { templateRef: "soulbox-template-base" }, {}, "base"],
  [
    "a snapshot, with the source's template recorded",
    { templateRef: undefined, restoreFrom: "snap1" },
    { "soulbox.dev/template-id": "python" },
    "python",
  ],
  ["a snapshot, nothing recorded", { templateRef: undefined, restoreFrom: "snap1" }, {}, "snap1"],
])("the templateID of a sandbox started from %s", (_what, spec, annotations, id) => {
  expect(toE2bSandbox(sb(spec, {}, annotations), "tok", "d").templateID).toBe(id);
});
