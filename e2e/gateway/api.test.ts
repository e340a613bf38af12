/**
 * The REST API against the real cluster and node: the operator in-process (scoped to team A's
 * namespace), the API on an ephemeral port, the official `e2b` SDK's control-plane calls and plain
 * fetch for create and the bad inputs. Two real sandboxes serve every check.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { AuthenticationError, NotFoundError, Sandbox as E2b, SandboxNotFoundError } from "e2b";
import type { Sandbox } from "../../api/gen/crd-types.js";
import type { ApiConfig } from "../../gateway/src/api/context.js";
import { startApi, type Api } from "../../gateway/src/api/start.js";
import { runKeysCommand } from "../../gateway/src/keys-cli.js";
import { startSandboxIndex, type SandboxIndex } from "../../gateway/src/sandboxes/sandbox-index.js";
import { createLogger } from "../../lib/log.js";
import { kubeConfig, testNamespace, waitFor } from "../cluster/test-support/cluster.js";
import {
  IMAGES,
  installCrds,
  sandboxApi,
  startInProcessOperator,
  type SandboxController,
} from "./in-process-operator.js";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const quiet = createLogger("warn", {}, () => undefined);
let teamA: { name: string; dispose(): Promise<void> };
let teamB: { name: string; dispose(): Promise<void> };
let controller: SandboxController;
let index: SandboxIndex;
let url: string;
let keyA: string;
let keyB: string;
let dir: string;
const servers: { api: Api; server: Server }[] = [];

const config = (over: Partial<ApiConfig> = {}): ApiConfig => ({
  domain: "soulbox.test",
  namespace: teamA.name,
  apiKeysSecret: "api-keys",
  defaultTimeoutSeconds: 300,
  maxTimeoutSeconds: 3600,
  createTimeoutSeconds: 90,
  rateLimit: 1000,
  rateBurst: 1000,
  maxBodyBytes: 4096,
  auditLog: join(dir, "audit.log"),
  ...over,
});

async function serve(cfg: ApiConfig): Promise<{ api: Api; url: string }> {
  const a = await startApi({ kubeConfig: kc, index, config: cfg, log: quiet });
  const s = createServer(a.handler);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  servers.push({ api: a, server: s });
  return { api: a, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

async function keysCli(...argv: string[]): Promise<string> {
  let out = "";
  await runKeysCommand([...argv, "--namespace", teamA.name, "--api-keys-secret", "api-keys"], kc, {
    write: (t: string) => (out += t),
  });
  return out;
}

const call = (path: string, init: RequestInit & { key?: string } = {}) =>
  fetch(`${url}${path}`, {
    ...init,
    headers: {
      "x-api-key": init.key ?? keyA,
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
  });

const post = (path: string, body: unknown, key?: string) =>
  call(path, { method: "POST", body: JSON.stringify(body), ...(key ? { key } : {}) });

const sdk = (apiKey = keyA) => ({ apiUrl: url, apiKey, retries: 0 });

beforeAll(async () => {
  installCrds();
  dir = mkdtempSync(join(tmpdir(), "soulbox-api-"));
  teamA = await testNamespace(kc, "api-a");
  teamB = await testNamespace(kc, "api-b");
  await core.createNamespacedConfigMap({
    namespace: teamA.name,
    body: {
      metadata: { name: "soulbox-template-base", labels: { "soulbox.dev/template": "base" } },
      data: {
        template: JSON.stringify({
          image: IMAGES.base,
          resources: { limits: { cpu: "1", memory: "512Mi" } },
        }),
      },
    },
  });
  controller = startInProcessOperator({
    kubeConfig: kc,
    namespace: teamA.name,
    log: quiet,
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc" },
  });
  index = startSandboxIndex({ kubeConfig: kc, log: quiet });
  await Promise.all([controller.synced, index.synced]);
  keyA = (await keysCli("create", "--team", teamA.name, "--name", "a")).trim();
  keyB = (await keysCli("create", "--team", teamB.name, "--name", "b")).trim();
  url = (await serve(config())).url;
}, 180_000);

afterAll(async () => {
  for (const s of servers) {
    await new Promise<void>((r) => s.server.close(() => r()));
    await s.api.stop();
  }
  await index?.stop();
  await controller?.stop();
  await teamA?.dispose();
  await teamB?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let first: { sandboxID: string; envdAccessToken: string };
let second: { sandboxID: string };

test("create answers 201 with a Ready sandbox; env values stay in an owned Secret", async () => {
  const res = await post("/v2/sandboxes", {
    templateID: "base",
    timeout: 600,
    metadata: { suite: "api", n: "1" },
    envVars: { SECRET_VALUE: "hunter2-do-not-leak" },
  });
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status).toBe(201);
  expect(body).toMatchObject({
    templateID: "base",
    clientID: "soulbox",
    envdVersion: "0.6.4",
    domain: "soulbox.test",
    trafficAccessToken: null,
  });
  expect(body.sandboxID).toMatch(/^[a-z0-9]{20}$/);
  first = body as typeof first;
  const sb = await sandboxApi(kc, teamA.name).get(first.sandboxID);
  expect(sb.metadata.labels).toMatchObject({ "soulbox.dev/team": teamA.name });
  expect(sb.spec).toMatchObject({
    templateRef: "soulbox-template-base",
    onTimeout: "Delete",
    metadata: { suite: "api", n: "1" },
  });
  expect(JSON.stringify(sb)).not.toContain("hunter2");
  const token = await core.readNamespacedSecret({
    name: `${first.sandboxID}-envd`,
    namespace: teamA.name,
  });
  expect(first.envdAccessToken).toBe(Buffer.from(token.data?.token ?? "", "base64").toString());
  const env = await core.readNamespacedSecret({
    name: `${first.sandboxID}-env`,
    namespace: teamA.name,
  });
  expect(env.metadata?.ownerReferences).toEqual([
    expect.objectContaining({ kind: "Sandbox", name: first.sandboxID, uid: sb.metadata.uid }),
  ]);
  expect(Buffer.from(env.data?.SECRET_VALUE ?? "", "base64").toString()).toBe(
    "hunter2-do-not-leak",
  );

  const old = await post("/sandboxes", {
    templateID: "base",
    metadata: { suite: "api", n: "2" },
    autoPause: true,
  });
  expect([old.status, old.status === 201 ? "" : await old.text()]).toEqual([201, ""]);
  second = (await old.json()) as typeof second;
}, 240_000);

test("getInfo, list by metadata and state, pagination", async () => {
  const info = await E2b.getInfo(first.sandboxID, sdk());
  expect(info).toMatchObject({
    sandboxId: first.sandboxID,
    templateId: "base",
    state: "running",
    cpuCount: 1,
    memoryMB: 512,
    metadata: { suite: "api", n: "1" },
  });
  expect(info.lifecycle).toEqual({ onTimeout: "kill", autoResume: false });
  expect(info.endAt.getTime() - Date.now()).toBeGreaterThan(500_000);

  const byMeta = await E2b.list({
    ...sdk(),
    query: { metadata: { suite: "api", n: "2" } },
  }).nextItems();
  expect(byMeta.map((s) => s.sandboxId)).toEqual([second.sandboxID]);

  const pager = E2b.list({ ...sdk(), query: { metadata: { suite: "api" } }, limit: 1 });
  const seen: string[] = [];
  while (pager.hasNext) seen.push(...(await pager.nextItems()).map((s) => s.sandboxId));
  expect(seen.sort()).toEqual([first.sandboxID, second.sandboxID].sort());

  const bad = await call("/v2/sandboxes?nextToken=not-a-token");
  expect(bad.status).toBe(400);
  const v1 = (await (await call("/sandboxes?metadata=n%3D1")).json()) as { sandboxID: string }[];
  expect(v1.map((s) => s.sandboxID)).toEqual([first.sandboxID]);
});

test("setTimeout moves endAt both ways; refreshes only extend", async () => {
  await E2b.setTimeout(first.sandboxID, 900_000, sdk());
  let info = await E2b.getInfo(first.sandboxID, sdk());
  expect(Math.abs(info.endAt.getTime() - (Date.now() + 900_000))).toBeLessThan(5_000);
  await E2b.setTimeout(first.sandboxID, 700_000, sdk());
  info = await E2b.getInfo(first.sandboxID, sdk());
  expect(Math.abs(info.endAt.getTime() - (Date.now() + 700_000))).toBeLessThan(5_000);
  expect((await post(`/sandboxes/${first.sandboxID}/refreshes`, { duration: 10 })).status).toBe(
    204,
  );
  info = await E2b.getInfo(first.sandboxID, sdk());
  expect(info.endAt.getTime() - Date.now()).toBeGreaterThan(600_000);
  await expect(E2b.setTimeout(first.sandboxID, 3_601_000, sdk())).rejects.toThrow(
    /maximum of 3600 s/,
  );
});

test("pause, pause again (409), list paused, connect resumes (201), connect running (200)", async () => {
  expect(await E2b.pause(second.sandboxID, sdk())).toBe(true);
  expect(await E2b.pause(second.sandboxID, sdk())).toBe(false);
  expect((await post(`/sandboxes/${second.sandboxID}/pause`, {})).status).toBe(409);
  const paused = await E2b.list({
    ...sdk(),
    query: { metadata: { suite: "api" }, state: ["paused"] },
  }).nextItems();
  expect(paused.map((s) => s.sandboxId)).toEqual([second.sandboxID]);
  const v1 = (await (await call("/sandboxes?metadata=suite%3Dapi")).json()) as {
    sandboxID: string;
  }[];
  expect(v1.map((s) => s.sandboxID)).toEqual([first.sandboxID]); // v1 lists running ones

  expect((await post(`/sandboxes/${second.sandboxID}/resume`, {})).status).toBe(201);
  expect((await post(`/sandboxes/${second.sandboxID}/resume`, {})).status).toBe(409);
  expect(await E2b.pause(second.sandboxID, sdk())).toBe(true);

  const before = (await E2b.getInfo(second.sandboxID, sdk())).endAt.getTime();
  const resumed = await post(`/v2/sandboxes/${second.sandboxID}/connect`, { timeout: 5 });
  expect(resumed.status).toBe(201);
  expect(await resumed.json()).toMatchObject({ sandboxID: second.sandboxID, envdVersion: "0.6.4" });
  expect((await E2b.getInfo(second.sandboxID, sdk())).state).toBe("running");
  const again = await post(`/sandboxes/${second.sandboxID}/connect`, { timeout: 5 });
  expect(again.status).toBe(200);
  expect((await E2b.getInfo(second.sandboxID, sdk())).endAt.getTime()).toBe(before); // never shortened
}, 120_000);

test("metrics and logs", async () => {
  const metrics = await E2b.getMetrics(first.sandboxID, sdk());
  expect(metrics).toHaveLength(1);
  expect(metrics[0]).toMatchObject({ cpuCount: expect.any(Number), memTotal: expect.any(Number) });
  expect(metrics[0]!.timestamp.getTime()).toBeGreaterThan(Date.now() - 60_000);
  const many = (await (
    await call(`/sandboxes/metrics?sandbox_ids=${first.sandboxID},${second.sandboxID},nope`)
  ).json()) as {
    sandboxes: Record<string, unknown>;
  };
  expect(Object.keys(many.sandboxes).sort()).toEqual([first.sandboxID, second.sandboxID].sort());
  const logs = await call(`/sandboxes/${first.sandboxID}/logs?limit=5`);
  expect(logs.status).toBe(200);
  const body = (await logs.json()) as { logs: unknown[]; logEntries: unknown[] };
  expect(Array.isArray(body.logs) && Array.isArray(body.logEntries)).toBe(true);
  expect(body.logs.length).toBeLessThanOrEqual(5);
});

test("another team's sandbox is an unknown sandbox, and is never listed", async () => {
  const other = await sandboxApi(kc, teamB.name).create("othersandbox1", {
    template: { image: IMAGES.base },
  });
  await core.readNamespace({ name: teamB.name });
  await sandboxApi(kc, teamB.name).patch("othersandbox1", {
    metadata: { labels: { "soulbox.dev/team": teamB.name } },
  });
  await waitFor(
    "the index sees team B's sandbox",
    async () => index.get("othersandbox1") ?? undefined,
  );
  expect(other.metadata.name).toBe("othersandbox1");

  await expect(E2b.getInfo("othersandbox1", sdk())).rejects.toBeInstanceOf(SandboxNotFoundError);
  await expect(E2b.getInfo("doesnotexist", sdk())).rejects.toBeInstanceOf(SandboxNotFoundError);
  expect(await E2b.kill("othersandbox1", sdk())).toBe(false);
  await expect(E2b.setTimeout("othersandbox1", 10_000, sdk())).rejects.toBeInstanceOf(
    SandboxNotFoundError,
  );
  expect((await post("/sandboxes/othersandbox1/pause", {})).status).toBe(404);
  expect((await post("/v2/sandboxes/othersandbox1/connect", {})).status).toBe(404);
  expect((await call("/sandboxes/othersandbox1/logs")).status).toBe(404);
  const listed = await E2b.list({ ...sdk(), query: { state: ["running", "paused"] } }).nextItems();
  expect(listed.map((s) => s.sandboxId)).not.toContain("othersandbox1");
  const forB = await E2b.list(sdk(keyB)).nextItems();
  expect(forB.map((s) => s.sandboxId)).toEqual(["othersandbox1"]);
  expect(await sandboxApi(kc, teamB.name).getOrUndefined("othersandbox1")).toBeDefined(); // untouched
});

test.each([
  [
    "malformed JSON",
    () =>
      call("/v2/sandboxes", {
        method: "POST",
        body: "{nope",
        headers: { "content-type": "application/json" },
      }),
    400,
    /not valid JSON/,
  ],
  [
    "oversized body",
    () => post("/v2/sandboxes", { templateID: "base", metadata: { x: "y".repeat(5000) } }),
    413,
    /larger than 4096 bytes/,
  ],
  [
    "wrong content type",
    () =>
      call("/v2/sandboxes", {
        method: "POST",
        body: "templateID=base",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    400,
    /must be JSON/,
  ],
  [
    "timeout over max",
    () => post("/v2/sandboxes", { templateID: "base", timeout: 3601 }),
    400,
    /maximum of 3600 s/,
  ],
  [
    "negative timeout",
    () => post("/v2/sandboxes", { templateID: "base", timeout: -1 }),
    400,
    /negative/,
  ],
  [
    "bad metadata key",
    () => post("/v2/sandboxes", { templateID: "base", metadata: { "soulbox.dev/team": "x" } }),
    400,
    /'soulbox.dev\/team' is reserved/,
  ],
  [
    "unknown template",
    () => post("/v2/sandboxes", { templateID: "nope" }),
    404,
    /template 'nope' not found/,
  ],
  ["unknown route", () => call("/nope"), 404, /no route for GET \/nope/],
  ["fork of an unknown sandbox", () => post("/sandboxes/x/fork", {}), 404, /sandbox 'x' not found/],
  [
    "snapshot of an unknown sandbox",
    () => post("/sandboxes/x/snapshots", {}),
    404,
    /sandbox 'x' not found/,
  ],
  ["list snapshots, bad limit", () => call("/snapshots?limit=0"), 400, /limit must be a whole/],
  [
    "network update of an unknown sandbox",
    () => call("/sandboxes/x/network", { method: "PUT", body: "{}" }),
    404,
    /sandbox 'x' not found/,
  ],
  ["no key", () => fetch(`${url}/v2/sandboxes`), 401, /no API key/],
  [
    "unknown key",
    () => call("/v2/sandboxes", { key: "e2b_0000000000000000000000000000000000000000" }),
    401,
    /not valid/,
  ],
])("%s", async (_what, request, status, message) => {
  const res = await request();
  expect(res.status).toBe(status);
  const body = (await res.json()) as { code: number; message: string };
  expect(body.code).toBe(status);
  expect(body.message).toMatch(message);
});

test("the SDK maps the statuses onto its error classes; Bearer works like X-API-Key", async () => {
  await expect(E2b.getInfo(first.sandboxID, sdk("e2b_bad"))).rejects.toBeInstanceOf(
    AuthenticationError,
  );
  await expect(
    E2b.list({ ...sdk(), query: { metadata: { suite: "api" } }, limit: 0 }).nextItems(),
  ).rejects.toThrow(/^400: limit must be a whole number/); // the SDK's class for a 400 is SandboxError
  await expect(E2b.getInfo("nope", sdk())).rejects.toBeInstanceOf(NotFoundError);
  const bearer = await fetch(`${url}/sandboxes/${first.sandboxID}`, {
    headers: { authorization: `Bearer ${keyA}` },
  });
  expect(bearer.status).toBe(200);
});

test("an expired key is refused with a message saying so; a revoked key stops working", async () => {
  const expiring = (
    await keysCli("create", "--team", teamA.name, "--name", "brief", "--expires-in", "1")
  ).trim();
  await waitFor(
    "the new key works",
    async () =>
      (await call("/v2/sandboxes", { key: expiring })).status === 200 ? true : undefined,
    5_000,
  ).catch(() => undefined);
  const res = await waitFor(
    "the key expired",
    async () => {
      const r = await call("/v2/sandboxes", { key: expiring });
      return r.status === 401 ? r : undefined;
    },
    10_000,
  );
  expect(((await res.json()) as { message: string }).message).toMatch(/expired/);
  await expect(E2b.list(sdk(expiring)).nextItems()).rejects.toBeInstanceOf(AuthenticationError);

  const revocable = (await keysCli("create", "--team", teamA.name, "--name", "gone")).trim();
  await waitFor(
    "the key works",
    async () =>
      (await call("/v2/sandboxes", { key: revocable })).status === 200 ? true : undefined,
    5_000,
  );
  await keysCli("revoke", "--name", "gone");
  const t = Date.now();
  await waitFor(
    "the revoked key fails",
    async () =>
      (await call("/v2/sandboxes", { key: revocable })).status === 401 ? true : undefined,
    5_000,
  );
  expect(Date.now() - t).toBeLessThan(2_000);
});

test("rate limit: 429 with Retry-After once the burst is spent", async () => {
  const limited = await serve(config({ rateLimit: 0.5, rateBurst: 2 }));
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${limited.url}/v2/sandboxes`, { headers: { "x-api-key": keyA } });
    statuses.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get("retry-after");
      expect(await r.json()).toMatchObject({ code: 429 });
    } else await r.body?.cancel();
  }
  expect(statuses).toEqual([200, 200, 429]);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  // Other keys have buckets of their own.
  expect(
    (await fetch(`${limited.url}/v2/sandboxes`, { headers: { "x-api-key": keyB } })).status,
  ).toBe(200);
});

test("a sandbox not ready within the create timeout is deleted, and the answer says so", async () => {
  const slow = await serve(config({ createTimeoutSeconds: 1 }));
  const res = await fetch(`${slow.url}/v2/sandboxes`, {
    method: "POST",
    headers: { "x-api-key": keyA, "content-type": "application/json" },
    body: JSON.stringify({ templateID: "base", metadata: { suite: "slow" } }),
  });
  expect(res.status).toBe(504);
  expect(((await res.json()) as { message: string }).message).toMatch(
    /not ready within 1 s and was deleted/,
  );
  const left = (await sandboxApi(kc, teamA.name).list()).filter(
    (s: Sandbox) => s.spec.metadata?.suite === "slow",
  );
  expect(left.every((s) => s.metadata.deletionTimestamp)).toBe(true);
});

test("kill: 204, then unknown; audit lines name key, team, route and sandbox, never the key", async () => {
  expect(await E2b.kill(first.sandboxID, sdk())).toBe(true);
  await expect(E2b.getInfo(first.sandboxID, sdk())).rejects.toBeInstanceOf(SandboxNotFoundError);
  expect(await E2b.kill(first.sandboxID, sdk())).toBe(false);
  expect((await call(`/sandboxes/${second.sandboxID}`, { method: "DELETE" })).status).toBe(204);

  const text = readFileSync(join(dir, "audit.log"), "utf8");
  const lines = text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toContainEqual(
    expect.objectContaining({
      keyName: "a",
      team: teamA.name,
      method: "DELETE",
      route: "/sandboxes/:id",
      sandboxID: first.sandboxID,
      status: 204,
    }),
  );
  expect(lines).toContainEqual(
    expect.objectContaining({
      method: "POST",
      route: "/v2/sandboxes",
      status: 201,
      sandboxID: first.sandboxID,
    }),
  );
  expect(lines).toContainEqual(expect.objectContaining({ keyName: null, status: 401 }));
  for (const l of lines)
    expect(Object.keys(l).sort()).toEqual([
      "durationMs",
      "keyName",
      "method",
      "remote",
      "route",
      "sandboxID",
      "status",
      "team",
      "ts",
    ]);
  expect(text).not.toContain(keyA);
  expect(text).not.toContain("hunter2");
});
