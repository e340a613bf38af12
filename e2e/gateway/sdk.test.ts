/**
 * The official `e2b` SDK, unchanged, against a chart-installed SoulBox gateway in the local cluster
 * with a real node: the acceptance test for "change two environment variables and E2B code runs on
 * SoulBox". Configuration comes from `e2e/cluster/env`, as a user would eval it. Jest's global setup
 * makes test workers trust the local CA (NODE_EXTRA_CA_CERTS), which the SDK's TLS needs.
 *
 * The official Python SDK (PyPI, pinned in python/requirements.txt, installed into
 * e2e/gateway/.venv on first use) runs python/sdk_check.py against the same gateway; the CA reaches
 * Python through SSL_CERT_FILE. One release (and one DNS name) serves both: a DNS change restarts
 * the cluster's dnsmasq, which a second release per run would do while the first is in use.
 */
import { AuthenticationError, NotFoundError, Sandbox, SandboxNotFoundError } from "e2b";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import tls from "node:tls";
import * as k8s from "@kubernetes/client-node";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import { AESGCM_PREFIX, readEtcdRaw } from "../cluster/test-support/etcd.js";
import { installGatewayRelease, type GatewayRelease } from "./release.js";

const SDK_VARS = ["E2B_API_URL", "E2B_API_KEY", "E2B_DOMAIN"] as const;
const saved = Object.fromEntries(SDK_VARS.map((k) => [k, process.env[k]]));
const defaultCas = tls.getCACertificates("default");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const VENV = fileURLToPath(new URL("./.venv", import.meta.url));
const PYTHON = `${VENV}/bin/python`;
const REQUIREMENTS = fileURLToPath(new URL("./python/requirements.txt", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./python/sdk_check.py", import.meta.url));

/** The pinned SDK in its own virtualenv, made (or brought up to the pin) here. */
function ensureVenv(): void {
  const pinned = /^e2b==(\S+)$/m.exec(readFileSync(REQUIREMENTS, "utf8"))?.[1];
  const installed = existsSync(PYTHON)
    ? spawnSync(PYTHON, ["-c", "import importlib.metadata as m; print(m.version('e2b'))"], {
        encoding: "utf8",
      }).stdout.trim()
    : "";
  if (installed === pinned) return;
  const steps = [
    ["python3", ["-m", "venv", VENV]],
    [`${VENV}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS]],
  ] as const;
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, [...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  }
}

let gw: GatewayRelease;

/** The raw etcd value of the sandbox's env Secret (`<id>-env`, in whichever namespace holds it). */
async function envSecretInEtcd(id: string): Promise<Buffer> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const found = await core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${id}-env` });
  const ns = found.items[0]?.metadata?.namespace;
  if (!ns) throw new Error(`no Secret ${id}-env in the cluster`);
  const raw = await readEtcdRaw(`/registry/secrets/${ns}/${id}-env`);
  if (!raw) throw new Error(`etcd has no /registry/secrets/${ns}/${id}-env`);
  return raw;
}

beforeAll(async () => {
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig());
  for (const k of SDK_VARS) {
    const v = gw.env[k];
    if (!v) throw new Error(`e2e/cluster/env printed no ${k}`);
    process.env[k] = v;
  }
  // What NODE_EXTRA_CA_CERTS does for a user's program, done for this process: a worker may have
  // started before the global setup set it (jest runs a lone test file in its own process).
  const ca = readFileSync(gw.env.NODE_EXTRA_CA_CERTS ?? "", "utf8");
  tls.setDefaultCACertificates([...defaultCas, ca]);
}, 300_000);

afterAll(async () => {
  tls.setDefaultCACertificates(defaultCas);
  for (const k of SDK_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await gw?.uninstall();
}, 180_000);

test("e2e/cluster/env prints the three stable lines for this gateway", () => {
  expect(gw.env.E2B_API_URL).toBe(`https://api.${gw.domain}`);
  expect(gw.env.E2B_DOMAIN).toBe(gw.domain);
  expect(gw.env.E2B_SANDBOX_URL).toBeUndefined();
  expect(gw.env.E2B_API_KEY).toMatch(/^e2b_[0-9a-f]{40}$/);
});

test("create, run with streaming output, write and read files, list by metadata, set a timeout, kill", async () => {
  const tag = `t${Date.now().toString(36)}`;
  const sbx = await Sandbox.create("base", {
    metadata: { suite: tag },
    envs: { GREETING: "hello from envVars" },
    timeoutMs: 120_000,
  });
  try {
    expect(sbx.sandboxId).toMatch(/^[a-z0-9]+$/);
    // Create-time envVars are sandbox-wide: every command sees them.
    expect((await sbx.commands.run("echo $GREETING")).stdout).toBe("hello from envVars\n");
    // ...and at rest they are ciphertext: etcd holds the env Secret encrypted (AES-GCM).
    const envSecret = await envSecretInEtcd(sbx.sandboxId);
    expect(envSecret.subarray(0, AESGCM_PREFIX.length).toString()).toBe(AESGCM_PREFIX);
    expect(envSecret.includes("hello from envVars")).toBe(false);
    const chunks: string[] = [];
    const run = await sbx.commands.run("for i in 1 2 3; do echo line$i; sleep 0.2; done", {
      onStdout: (d) => void chunks.push(d),
    });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("line1\nline2\nline3\n");
    expect(chunks.join("")).toBe("line1\nline2\nline3\n");
    expect((await sbx.commands.run("whoami")).stdout.trim()).toBe("user");

    await sbx.files.write("/home/user/hello.txt", "hello through the gateway");
    expect(await sbx.files.read("/home/user/hello.txt")).toBe("hello through the gateway");
    const big = "x".repeat(3 << 20);
    await sbx.files.write("/home/user/big.txt", big);
    expect((await sbx.files.read("/home/user/big.txt")).length).toBe(big.length);

    const listed = await Sandbox.list({ query: { metadata: { suite: tag } } }).nextItems();
    expect(listed.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    expect(listed[0]?.metadata).toEqual({ suite: tag });
    expect(await Sandbox.list({ query: { metadata: { suite: "none" } } }).nextItems()).toEqual([]);

    const before = Date.now();
    await sbx.setTimeout(60_000);
    const info = await sbx.getInfo();
    expect(info.state).toBe("running");
    expect(info.endAt.getTime() - before).toBeGreaterThan(55_000);
    expect(info.endAt.getTime() - before).toBeLessThan(65_000);
    expect(await sbx.isRunning()).toBe(true);
  } finally {
    await sbx.kill();
  }
  expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
  expect(await sbx.isRunning()).toBe(false);
  await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toBeInstanceOf(SandboxNotFoundError);
}, 180_000);

test("host routing over TLS: {port}-{id}.{domain} for envd, signed file URLs and a user's port", async () => {
  // env exports no E2B_SANDBOX_URL: the SDK uses the domain the API returned.
  {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    try {
      expect(sbx.getHost(8000)).toBe(`8000-${sbx.sandboxId}.${gw.domain}`);
      expect((await sbx.commands.run("echo routed by host")).stdout).toBe("routed by host\n");

      const up = await sbx.uploadUrl("/home/user/site/index.html", {
        useSignatureExpiration: 60_000,
      });
      const form = new FormData();
      form.append("file", new Blob(["<h1>served from the sandbox</h1>"]), "index.html");
      const put = await fetch(up, { method: "POST", body: form });
      expect(put.status).toBe(200);
      const down = await fetch(await sbx.downloadUrl("/home/user/site/index.html"));
      expect(down.status).toBe(200);
      expect(await down.text()).toBe("<h1>served from the sandbox</h1>");

      await sbx.commands.run("python3 -m http.server 8000 --directory /home/user/site", {
        background: true,
      });
      let page = "";
      for (let i = 0; i < 50 && !page.includes("served"); i++) {
        const res = await fetch(`https://${sbx.getHost(8000)}/`).catch(() => undefined);
        page = res?.ok ? await res.text() : "";
        if (!page) await sleep(200);
      }
      expect(page).toBe("<h1>served from the sandbox</h1>");
    } finally {
      await sbx.kill();
    }
  }
}, 180_000);

test("a sandbox given a 5 s timeout stops answering within 6 s", async () => {
  const sbx = await Sandbox.create("base", { timeoutMs: 5_000 });
  const created = Date.now();
  expect(await sbx.isRunning()).toBe(true);
  await sleep(Math.max(0, created + 6_000 - Date.now()));
  expect(await sbx.isRunning()).toBe(false);
  await Sandbox.kill(sbx.sandboxId);
}, 120_000);

test("pause, then Sandbox.connect resumes it and commands run again", async () => {
  const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
  try {
    await sbx.commands.run("echo kept > /tmp/state");
    expect(await sbx.pause()).toBe(true);
    expect(await Sandbox.pause(sbx.sandboxId)).toBe(false); // already paused: 409
    expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
    expect(await sbx.isRunning()).toBe(false);
    const again = await Sandbox.connect(sbx.sandboxId);
    expect((await again.commands.run("cat /tmp/state")).stdout).toBe("kept\n");
    expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("running");
  } finally {
    await sbx.kill();
  }
}, 180_000);

test("a paused sandbox created with autoResume is resumed by the first request that reaches it", async () => {
  const sbx = await Sandbox.create("base", {
    timeoutMs: 120_000,
    lifecycle: { onTimeout: "pause", autoResume: true },
  });
  try {
    await sbx.commands.run("echo before > /tmp/x");
    expect(await sbx.pause()).toBe(true);
    expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
    expect((await sbx.commands.run("cat /tmp/x")).stdout).toBe("before\n");
    const info = await Sandbox.getInfo(sbx.sandboxId);
    expect(info.state).toBe("running");
    expect(info.lifecycle).toEqual({ onTimeout: "pause", autoResume: true });
  } finally {
    await sbx.kill();
  }
}, 180_000);

test("bad input: unknown ids, another team's sandbox, expired and unknown keys, malformed and oversized bodies", async () => {
  const apiUrl = gw.env.E2B_API_URL ?? "";
  const key = gw.env.E2B_API_KEY ?? "";
  await expect(Sandbox.connect("nosuchsandbox0000000")).rejects.toBeInstanceOf(NotFoundError);
  expect(await Sandbox.kill("nosuchsandbox0000000")).toBe(false);
  const health = await fetch(`https://sandbox.${gw.domain}/health`, {
    headers: { "E2b-Sandbox-Id": "nosuchsandbox0000000", "E2b-Sandbox-Port": "49983" },
  });
  expect(health.status).toBe(502);

  const sbx = await Sandbox.create("base", { metadata: { owner: "team-a" }, timeoutMs: 120_000 });
  try {
    const otherKey = gw.createKey(gw.otherTeam);
    await expect(Sandbox.getInfo(sbx.sandboxId, { apiKey: otherKey })).rejects.toBeInstanceOf(
      SandboxNotFoundError,
    );
    expect(await Sandbox.kill(sbx.sandboxId, { apiKey: otherKey })).toBe(false);
    await expect(
      Sandbox.setTimeout(sbx.sandboxId, 1_000, { apiKey: otherKey }),
    ).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await Sandbox.list({ apiKey: otherKey }).nextItems()).toEqual([]);
    expect(await sbx.isRunning()).toBe(true); // untouched by the other team

    const shortKey = gw.createKey(gw.namespace, ["--expires-in", "1"]);
    await sleep(1_500);
    await expect(Sandbox.list({ apiKey: shortKey }).nextItems()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    await expect(
      Sandbox.list({ apiKey: "e2b_0000000000000000000000000000000000000000" }).nextItems(),
    ).rejects.toBeInstanceOf(AuthenticationError);

    const post = (body: string) =>
      fetch(`${apiUrl}/v2/sandboxes`, {
        method: "POST",
        headers: { "X-API-Key": key, "Content-Type": "application/json" },
        body,
      });
    const malformed = await post("{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 400, message: expect.any(String) });
    const oversized = await post(
      JSON.stringify({ templateID: "base", metadata: { pad: "y".repeat(2 << 20) } }),
    );
    expect(oversized.status).toBe(413);
    expect(await oversized.json()).toMatchObject({ code: 413 });
    // Nothing of the refused calls was created: the team still has exactly the one sandbox.
    const mine = await Sandbox.list().nextItems();
    expect(mine.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
  } finally {
    await sbx.kill();
  }
}, 180_000);

test("the official Python SDK: create, stream a command, envVars, files, list by metadata, set a timeout, kill", () => {
  ensureVenv();
  const env = {
    ...process.env,
    E2B_API_URL: gw.env.E2B_API_URL,
    E2B_DOMAIN: gw.env.E2B_DOMAIN,
    E2B_API_KEY: gw.env.E2B_API_KEY,
    SSL_CERT_FILE: gw.env.NODE_EXTRA_CA_CERTS,
  };
  const tag = `py${Date.now().toString(36)}`;
  const r = spawnSync(PYTHON, [SCRIPT, tag], { env, encoding: "utf8", timeout: 150_000 });
  if (r.status !== 0) throw new Error(`sdk_check.py failed (${r.status}):\n${r.stderr}`);
  const seen = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
  expect(seen.sandbox_id).toMatch(/^[a-z0-9]+$/);
  expect(seen.stdout).toBe("line1\nline2\nline3\nhi\n");
  expect(seen.streamed).toBe(seen.stdout);
  expect(seen.exit_code).toBe(0);
  expect(seen.read_back).toBe("written by the Python SDK");
  expect(seen.listed).toEqual([seen.sandbox_id]);
  expect(seen.end_in_s).toBeGreaterThanOrEqual(58);
  expect(seen.end_in_s).toBeLessThanOrEqual(62);
  expect(seen.running).toBe(true);
  expect(seen.running_after_kill).toBe(false);
  expect(seen.connect_after_kill).toBe("SandboxNotFoundException");
}, 200_000);
