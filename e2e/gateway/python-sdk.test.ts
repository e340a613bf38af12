/**
 * The official Python `e2b` SDK (PyPI, pinned in python/requirements.txt and installed into
 * e2e/gateway/.venv on first use) against a chart-installed gateway, configured only by what
 * `e2e/cluster/env` prints; the CA reaches Python through SSL_CERT_FILE. The script
 * (python/sdk_check.py) reports what it saw as JSON.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import { installGatewayRelease, type GatewayRelease } from "./release.js";

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
beforeAll(async () => {
  ensureVenv();
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig());
}, 400_000);
afterAll(async () => {
  await gw?.uninstall();
}, 180_000);

test("create, stream a command, envVars, files, list by metadata, set a timeout, kill", () => {
  const env = {
    ...process.env,
    E2B_API_URL: gw.env.E2B_API_URL,
    E2B_SANDBOX_URL: gw.env.E2B_SANDBOX_URL,
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
