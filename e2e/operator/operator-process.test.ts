/**
 * The operator as a process (dist/operator.mjs, as the image runs it) against
 * the real API server: flags, probes and metrics, a SIGKILL in the middle of a
 * storm of creates and deletes, and an API server restart under its watches.
 * The sandboxes here ask for a GPU the node does not have, so their pods stay
 * unscheduled: what is tested is the operator's bookkeeping, without loading
 * the node other test files use.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../../envd/test-support/envd-process.js";
import {
  kubeConfig,
  testNamespace,
  restartSharedApiServer,
  waitFor,
  RESTART_TEST_TIMEOUT_MS,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { installCrds, sandboxApi } from "../../operator/test-support/operator.js";
import type { SandboxSpec } from "../../api/gen/crd-types.js";

const ENTRY = fileURLToPath(new URL("../../dist/operator.mjs", import.meta.url));
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const UNSCHEDULABLE: SandboxSpec = {
  template: { image: "localhost/soulbox/sandbox-base:latest" },
  gpu: { count: 1, product: "no-such-gpu" },
};

interface OperatorProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function startOperator(namespace: string, extra: string[] = []): Promise<OperatorProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ENTRY,
      "--watch-namespace",
      namespace,
      "--health-port",
      String(port),
      "--metrics-port",
      String(port),
      "--default-runtime-class",
      "runc",
      ...extra,
    ],
    { env: { ...process.env, POD_NAME: `test-${process.pid}` }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const op: OperatorProcess = {
    child,
    port,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
  try {
    await waitFor("the operator ready", async () => {
      if (child.exitCode !== null) throw new Error(`the operator exited:\n${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    });
  } catch (err) {
    await op.stop("SIGKILL");
    throw err;
  }
  return op;
}

let ns: { name: string; dispose(): Promise<void> };
let operator: OperatorProcess | undefined;
beforeAll(() => installCrds());
beforeEach(async () => {
  ns = await testNamespace(kc, "op");
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await operator?.stop("SIGKILL");
  operator = undefined;
  await ns.dispose();
});

test.each([
  [["--workers", "0"], /--workers must be an integer from 1 to 256, got '0'/],
  [["--bogus"], /Unknown option '--bogus'/],
])("a bad flag %j exits 2 with a message and the usage", (argv, message) => {
  const r = spawnSync(process.execPath, [ENTRY, ...argv], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/Usage: node dist\/operator.mjs/);
});

test("serves probes and Prometheus metrics, and stops cleanly on SIGTERM", async () => {
  operator = await startOperator(ns.name);
  const sandboxes = sandboxApi(kc, ns.name);
  await sandboxes.create("metered", UNSCHEDULABLE);
  await waitFor("the pod", () => core.readNamespacedPod({ name: "metered", namespace: ns.name }));
  expect((await fetch(`http://127.0.0.1:${operator.port}/healthz`)).status).toBe(200);
  const text = await waitFor("metrics with the reconcile", async () => {
    const t = await (await fetch(`http://127.0.0.1:${operator?.port}/metrics`)).text();
    return /soulbox_reconcile_total\{kind="Sandbox",result="success"\} [1-9]/.test(t)
      ? t
      : undefined;
  });
  expect(text).toMatch(/soulbox_reconcile_duration_seconds_bucket/);
  expect(text).toMatch(/soulbox_workqueue_depth\{kind="Sandbox"\}/);
  await waitFor("the phase gauge", async () => {
    const t = await (await fetch(`http://127.0.0.1:${operator?.port}/metrics`)).text();
    return /soulbox_sandboxes\{phase="Pending"\} 1/.test(t) ? true : undefined;
  });
  const exited = once(operator.child, "exit");
  operator.child.kill("SIGTERM");
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
  const lines = operator
    .output()
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow(); // structured logs
  expect(operator.output()).toMatch(/"msg":"stopping"/);
});

test("killed during 100 creates and deletes, a restarted operator ends with exactly the pods that should exist", async () => {
  const sandboxes = sandboxApi(kc, ns.name);
  operator = await startOperator(ns.name);
  const names = Array.from({ length: 100 }, (_, i) => `s${i}`);
  const doomed = new Set(names.filter((_, i) => i % 3 === 0));
  let killed = false;
  const work = names.map((name, i) => async () => {
    await sandboxes.create(name, UNSCHEDULABLE);
    if (i === 50 && !killed) {
      killed = true;
      await operator?.stop("SIGKILL");
    }
    if (doomed.has(name)) await sandboxes.delete(name);
  });
  // Ten at a time, like a busy gateway.
  for (let i = 0; i < work.length; i += 10)
    await Promise.all(work.slice(i, i + 10).map((w) => w()));
  expect(killed).toBe(true);
  operator = await startOperator(ns.name);
  const wanted = names.filter((n) => !doomed.has(n)).sort();
  await waitFor(
    "exactly the wanted pods and token Secrets",
    async () => {
      const pods = (await core.listNamespacedPod({ namespace: ns.name })).items
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => p.metadata?.name ?? "")
        .sort();
      const secrets = (await core.listNamespacedSecret({ namespace: ns.name })).items
        .map((s) => s.metadata?.name ?? "")
        .filter((n) => n.endsWith("-envd"))
        .sort();
      return JSON.stringify(pods) === JSON.stringify(wanted) &&
        JSON.stringify(secrets) === JSON.stringify(wanted.map((n) => `${n}-envd`).sort())
        ? true
        : undefined;
    },
    120_000,
  );
  await waitFor("every remaining Sandbox with a Pending status", async () => {
    const all = await sandboxes.list();
    return all.length === wanted.length && all.every((s) => s.status?.phase === "Pending")
      ? true
      : undefined;
  });
});

test(
  "an API server restart under the operator's watches loses no Sandbox",
  async () => {
    const sandboxes = sandboxApi(kc, ns.name);
    operator = await startOperator(ns.name);
    await sandboxes.create("before", UNSCHEDULABLE);
    await waitFor("the first pod", () =>
      core.readNamespacedPod({ name: "before", namespace: ns.name }),
    );
    await restartSharedApiServer();
    await waitFor("the API server back", () => core.readNamespace({ name: ns.name }), 60_000);
    await sandboxes.create("after", UNSCHEDULABLE);
    await waitFor(
      "the second pod",
      () => core.readNamespacedPod({ name: "after", namespace: ns.name }),
      60_000,
    );
    expect(operator.output()).toMatch(/watch ended; relisting|list failed; retrying/);
  },
  RESTART_TEST_TIMEOUT_MS,
);
