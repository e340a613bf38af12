/**
 * Operator benchmark: brings up its own local cluster (e2e/cluster, with the
 * node), runs dist/operator.mjs as a process, and measures
 * 1. 200 Sandboxes created at once → every pod created (pods unscheduled: they
 *    ask for a GPU the node lacks, so only the operator and the API server
 *    work), per-sandbox create→pod p50/p99, and the operator's CPU seconds and
 *    peak RSS;
 * 2. READY_COUNT Sandboxes of the base image created at once → every one Ready
 *    (the node holds at most this many sandboxes on a small machine), with
 *    per-sandbox create→Ready p50/p99.
 * Prints Markdown tables; stops the operator and the cluster by pid.
 * Run with `npm run bench:operator`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import * as k8s from "@kubernetes/client-node";
import { installCrds, sandboxApi } from "../operator/test-support/operator.js";
import type { SandboxSpec } from "../api/gen/crd-types.js";
import { progress, quantile, sleep, withBenchCluster } from "./support.js";

const MANY = 200;
const READY_COUNT = Number(process.env.SOULBOX_BENCH_READY ?? 20);

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}
function peakRssMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

async function main(kubeconfig: string) {
  let operator: ChildProcess | undefined;
  try {
    installCrds();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = `bench-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const sandboxes = sandboxApi(kc, ns);
    operator = spawn(
      process.execPath,
      [
        "dist/operator.mjs",
        "--watch-namespace",
        ns,
        "--health-port",
        "0",
        "--metrics-port",
        "0",
        "--default-runtime-class",
        "runc",
        "--log-level",
        "warn",
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const pid = operator.pid ?? 0;
    await sleep(1500);

    // 1. Many at once, unscheduled.
    const unscheduled: SandboxSpec = {
      template: { image: "localhost/soulbox/sandbox-base:latest" },
      gpu: { count: 1, product: "none" },
    };
    const cpu0 = cpuSeconds(pid);
    const created = new Map<string, number>();
    const podSeen = new Map<string, number>();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: MANY }, async (_, i) => {
        await sandboxes.create(`m${i}`, unscheduled);
        created.set(`m${i}`, performance.now());
      }),
    );
    progress(
      `${MANY} Sandboxes created in ${((performance.now() - t0) / 1000).toFixed(1)} s; waiting for their pods`,
    );
    for (;;) {
      const pods = (await core.listNamespacedPod({ namespace: ns })).items;
      for (const p of pods) {
        const n = p.metadata?.name ?? "";
        if (!podSeen.has(n) && p.metadata?.creationTimestamp) podSeen.set(n, performance.now());
      }
      if (podSeen.size >= MANY) break;
      await sleep(100);
    }
    const allPods = performance.now() - t0;
    const perPod = [...podSeen].map(([n, at]) => at - (created.get(n) ?? t0));
    const manyCpu = cpuSeconds(pid) - cpu0;
    for (let i = 0; i < MANY; i++) await sandboxes.delete(`m${i}`);

    // 2. Ready on the node.
    progress(`creating ${READY_COUNT} Sandboxes of the base image and waiting until all are Ready`);
    const readyAt = new Map<string, number>();
    const createdAt = new Map<string, number>();
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: READY_COUNT }, async (_, i) => {
        await sandboxes.create(`r${i}`, {
          template: { image: "localhost/soulbox/sandbox-base:latest" },
        });
        createdAt.set(`r${i}`, performance.now());
      }),
    );
    const deadline = Date.now() + 600_000;
    while (readyAt.size < READY_COUNT && Date.now() < deadline) {
      for (const s of await sandboxes.list()) {
        const n = s.metadata.name ?? "";
        if (!n.startsWith("r") || readyAt.has(n)) continue;
        if (s.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
          readyAt.set(n, performance.now());
      }
      await sleep(200);
    }
    const allReady = performance.now() - t1;
    const perReady = [...readyAt].map(([n, at]) => at - (createdAt.get(n) ?? t1));
    const rss = peakRssMiB(pid);
    const totalCpu = cpuSeconds(pid) - cpu0;

    console.log(
      `\n### Operator (${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, one local node)\n`,
    );
    console.log("| measure | value |\n|---|---|");
    console.log(
      `| ${MANY} Sandboxes at once → all pods created | ${(allPods / 1000).toFixed(1)} s |`,
    );
    console.log(
      `| create → pod, p50 / p99 | ${quantile(perPod, 0.5).toFixed(0)} ms / ${quantile(perPod, 0.99).toFixed(0)} ms |`,
    );
    console.log(`| operator CPU for the ${MANY} | ${manyCpu.toFixed(1)} s |`);
    console.log(
      `| ${READY_COUNT} Sandboxes at once → all Ready (${readyAt.size} made it) | ${(allReady / 1000).toFixed(1)} s |`,
    );
    console.log(
      `| create → Ready, p50 / p99 | ${quantile(perReady, 0.5).toFixed(0)} ms / ${quantile(perReady, 0.99).toFixed(0)} ms |`,
    );
    console.log(`| operator CPU, whole run | ${totalCpu.toFixed(1)} s |`);
    console.log(`| operator peak RSS | ${rss.toFixed(0)} MiB |`);
  } finally {
    if (operator && operator.exitCode === null) {
      const exited = once(operator, "exit");
      operator.kill("SIGTERM");
      await exited;
    }
  }
}

await withBenchCluster("operator", main);
