/**
 * The gateway as a process (dist/gateway.mjs, as the image runs it) against the real API server:
 * flags and the keys subcommand refuse bad input with exit status 2 and a message, probes and
 * metrics answer, a renewed TLS certificate is served without a restart, and SIGTERM stops it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { freePort } from "../../envd/test-support/envd-process.js";
import { clusterCommand, kubeConfig, testNamespace } from "../cluster/test-support/cluster.js";

const ENTRY = fileURLToPath(new URL("../../dist/gateway.mjs", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(args: string[]) {
  return spawnSync(process.execPath, [ENTRY, ...args], { env: process.env, encoding: "utf8" });
}

test.each([
  [["--bogus"], /Unknown option '--bogus'/],
  [["--http-port", "70000"], /--http-port must be an integer from 0 to 65535/],
  [["--tls-cert", "/c.pem"], /--tls-cert and --tls-key go together/],
  [["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], /cannot read the TLS/],
  [["--domain", "not a domain"], /--domain must be a DNS name/],
  [["keys", "create"], /--team/],
  [["keys", "frobnicate"], /frobnicate/],
])("%j exits 2 and says why", (args, message) => {
  const r = run(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(message);
});

test("--help prints the usage and exits 0", () => {
  const r = run(["--help"]);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("--max-timeout-seconds");
  expect(r.stdout).toContain("keys create --team");
});

/** The subject names of the certificate a TLS server presents to a new connection. */
async function servedNames(port: number): Promise<string> {
  const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await once(socket, "secureConnect");
  const names = socket.getPeerCertificate().subjectaltname ?? "";
  socket.destroy();
  return names;
}

describe("running", () => {
  let child: ChildProcess | undefined;
  let dir: string;
  let ns: { name: string; dispose(): Promise<void> };
  beforeAll(async () => {
    ns = await testNamespace(kubeConfig(), "gwp");
    dir = mkdtempSync(join(tmpdir(), "soulbox-gw-proc-"));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    rmSync(dir, { recursive: true, force: true });
    await ns.dispose();
  });

  test("probes and metrics answer, a renewed certificate is served, SIGTERM stops it", async () => {
    clusterCommand(["cert", "one.soulbox.test", join(dir, "one")]);
    clusterCommand(["cert", "two.soulbox.test", join(dir, "two")]);
    cpSync(join(dir, "one"), join(dir, "live"), { recursive: true });
    const [http, https, health] = [await freePort(), await freePort(), await freePort()];
    const args = [
      ...["--http-port", String(http), "--https-port", String(https)],
      ...["--health-port", String(health), "--namespace", ns.name],
      ...["--tls-cert", join(dir, "live", "tls.crt"), "--tls-key", join(dir, "live", "tls.key")],
      ...["--host", "127.0.0.1", "--log-level", "warn"],
    ];
    let out = "";
    child = spawn(process.execPath, [ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));

    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await fetch(`http://127.0.0.1:${health}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await sleep(100);
    }
    expect(ready).toBe(200);
    expect((await fetch(`http://127.0.0.1:${health}/healthz`)).status).toBe(200);
    const unauthorized = await fetch(`http://127.0.0.1:${http}/v2/sandboxes`);
    expect(unauthorized.status).toBe(401);
    const metrics = await (await fetch(`http://127.0.0.1:${health}/metrics`)).text();
    expect(metrics).toContain("soulbox_gateway_proxy_requests_total");
    expect(metrics).toMatch(
      /soulbox_gateway_api_requests_total\{method="GET",route="\(no route\)",status="401"\} 1/,
    );

    expect(await servedNames(https)).toContain("DNS:*.one.soulbox.test");
    cpSync(join(dir, "two"), join(dir, "live"), { recursive: true });
    let names = "";
    for (let i = 0; i < 60 && !names.includes("two"); i++) {
      await sleep(500);
      names = await servedNames(https);
    }
    expect(names).toContain("DNS:*.two.soulbox.test");

    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(out).not.toMatch(/"level":"error"/);
  }, 90_000);
});
