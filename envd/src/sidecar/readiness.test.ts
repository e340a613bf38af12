/**
 * GET /ready as the pod's readiness probe sees it: the sidecar starts before
 * the sandbox container, so it must say "not ready" until an executor answers
 * on the socket, and again when that executor goes away.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEnvd, type EnvdUnderTest } from "../../test-support/envd-process.js";
import { eventually } from "../../test-support/eventually.js";

const executorEntry = fileURLToPath(new URL("../../../dist/executor.mjs", import.meta.url));
let dir: string;
let envd: EnvdUnderTest;
let executor: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sbx-ready-"));
  envd = await startEnvd(["--executor-socket", join(dir, "executor.sock")]);
});
afterAll(async () => {
  await stopExecutor();
  await envd.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function stopExecutor() {
  if (!executor || executor.exitCode !== null || executor.signalCode !== null) return;
  const exited = once(executor, "exit");
  executor.kill("SIGKILL");
  await exited;
}

const readyStatus = async () => (await fetch(`${envd.url}/ready`)).status;

test("/ready is 503 while no executor listens, /health is 204 all along", async () => {
  const res = await fetch(`${envd.url}/ready`);
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ code: 503, message: "the executor does not answer yet" });
  expect((await fetch(`${envd.url}/health`)).status).toBe(204);
});

test("/ready turns 204 once the executor listens and 503 again when it dies", async () => {
  executor = spawn(process.execPath, [executorEntry, "--socket", join(dir, "executor.sock")], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  await eventually(async () => ((await readyStatus()) === 204 ? true : undefined));
  await stopExecutor();
  await eventually(async () => ((await readyStatus()) === 503 ? true : undefined));
  expect(envd.output()).not.toMatch(/"op":"GET \/ready"/); // probes are not audited
});
