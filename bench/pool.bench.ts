/**
 * Warm-pool benchmark: brings up its own local cluster (e2e/cluster, with the node), runs
 * dist/operator.mjs and dist/gateway.mjs as processes on this machine (as bench:gateway does), and
 * drives them with the official `e2b` SDK:
 * 1. warm: `Sandbox.create("base")` → first output of `echo`, one after the other, each time
 *    once the SandboxPool `base` has a ready pod (the wait is not timed), p50/p99;
 * 2. cold: the same with the template `cold` (the same image, no pool), p50/p99;
 * 3. a burst: as many `Sandbox.create("base")` at once as the pool holds ready, p50/p99 and
 *    how many were warm;
 * 4. density: the memory of an idle pool pod (its cgroup's anonymous memory: both envd
 *    processes and the sandbox's own), mean over the ready pods.
 * Prints Markdown tables and ends with exactly one line (a stable interface):
 * `pool: warm p50 <a> ms p99 <b> ms, cold p50 <c> ms, idle sandbox <d> MiB`.
 * Stops the processes and the cluster by pid.
 * Run with `npm run bench:pool` (SOULBOX_BENCH_SANDBOXES: warm and cold creates, default 50;
 * SOULBOX_BENCH_BURST: creates at once, default 50; SOULBOX_BENCH_KIT_VOLUME: image or copy, default
 * image).
 */
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { Sandbox } from "e2b";
import { SandboxPoolResource, type SandboxPool } from "../api/gen/crd-types.js";
import { Label } from "../api/labels.js";
import { installCrds, IMAGES } from "../operator/test-support/operator.js";
import {
  KIT_VOLUME,
  progress,
  quantile,
  sleep,
  startSoulBox,
  withBenchCluster,
  type SoulBoxProcesses,
} from "./support.js";

const SANDBOXES = Number(process.env.SOULBOX_BENCH_SANDBOXES ?? 50);
const BURST = Number(process.env.SOULBOX_BENCH_BURST ?? 50);
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/**
 * Milliseconds from `Sandbox.create(template)` to the first stdout of `echo` (`ms`), and the
 * part of it that `create` took (`createMs`: the gateway's answer; the rest is the SDK's first
 * command through the proxy); kills the sandbox after.
 */
async function createToFirstOutput(
  template: string,
): Promise<{ ms: number; createMs: number; id: string }> {
  const t = performance.now();
  const sbx = await Sandbox.create(template, { timeoutMs: 300_000 });
  const created = performance.now();
  let first = 0;
  await sbx.commands.run("echo first", { onStdout: () => void (first ||= performance.now()) });
  const took = first - t;
  await sbx.kill();
  return { ms: took, createMs: created - t, id: sbx.sandboxId };
}

/**
 * The anonymous memory (RSS) of a pod's memory cgroup, in bytes: cgroup v2 `anon`, v1
 * `total_rss`. The kubelet here uses the cgroupfs driver under a cgroup root of its own
 * (`/soulbox-<id>/kubepods/<qos>/pod<uid>`).
 */
function podAnonBytes(uid: string): number | undefined {
  const want = `pod${uid}`;
  const walk = /^(soulbox-|kubepods|besteffort|burstable|guaranteed)/;
  const search = (dir: string, depth: number): string | undefined => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return undefined;
    }
    if (entries.includes(want)) return join(dir, want);
    if (depth === 0) return undefined;
    for (const e of entries.filter((x) => walk.test(x))) {
      const found = search(join(dir, e), depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  for (const root of ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"]) {
    const dir = search(root, 4);
    if (!dir) continue;
    const stat = readFileSync(join(dir, "memory.stat"), "utf8");
    const bytes = /^(?:anon|total_rss) (\d+)$/m.exec(stat)?.[1];
    if (bytes) return Number(bytes);
  }
  return undefined;
}

async function main(kubeconfig: string) {
  let soulbox: SoulBoxProcesses | undefined;
  try {
    installCrds();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ns = `bench-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    for (const name of ["base", "cold"])
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: {
          metadata: { name: `soulbox-template-${name}`, labels: { "soulbox.dev/template": name } },
          data: { template: `image: ${IMAGES.base}\n` },
        },
      });
    const poolAt = {
      group: SandboxPoolResource.group,
      version: SandboxPoolResource.version,
      plural: SandboxPoolResource.plural,
      namespace: ns,
    };
    await custom.createNamespacedCustomObject({
      ...poolAt,
      body: {
        apiVersion: SandboxPoolResource.apiVersion,
        kind: SandboxPoolResource.kind,
        metadata: { name: "base" },
        spec: { templateRef: "soulbox-template-base", minReady: 2 },
      },
    });
    const setMinReady = (minReady: number) =>
      custom.patchNamespacedCustomObject(
        { ...poolAt, name: "base", body: { spec: { minReady } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    const readyPods = async () =>
      ((await custom.getNamespacedCustomObject({ ...poolAt, name: "base" })) as SandboxPool).status
        ?.ready ?? 0;
    const waitReady = async (n: number, timeoutMs = 600_000) => {
      const deadline = Date.now() + timeoutMs;
      while ((await readyPods()) < n) {
        if (Date.now() > deadline) throw new Error(`the pool did not reach ${n} ready pods`);
        await sleep(100);
      }
    };

    soulbox = await startSoulBox(kubeconfig, ns);

    progress("waiting for the pool's first 2 ready pods");
    await waitReady(2);
    // Warm up the SDK's and the gateway's connections and JIT (not counted).
    await createToFirstOutput("cold");

    progress(`${SANDBOXES} × warm Sandbox.create() → first output`);
    const warm: number[] = [];
    const warmCreate: number[] = [];
    for (let i = 0; i < SANDBOXES; i++) {
      await waitReady(1);
      const one = await createToFirstOutput("base");
      warm.push(one.ms);
      warmCreate.push(one.createMs);
    }
    progress(`${SANDBOXES} × cold Sandbox.create() → first output`);
    const cold: number[] = [];
    for (let i = 0; i < SANDBOXES; i++) cold.push((await createToFirstOutput("cold")).ms);

    progress(`a pool of ${BURST}: waiting for it to be ready, then ${BURST} creates at once`);
    const fillStart = performance.now();
    await setMinReady(BURST);
    await waitReady(BURST, 900_000);
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `${Label.pool}=base,${Label.component}=pool-pod`,
    });
    const anon = pods.items
      .map((p) => podAnonBytes(p.metadata?.uid ?? ""))
      .filter((b): b is number => b !== undefined);
    const idleMiB = anon.length ? anon.reduce((a, b) => a + b, 0) / anon.length / 2 ** 20 : NaN;
    // The pool keeps its size during the burst (a lower target would delete its ready pods).
    const burstStart = performance.now();
    const burst = await Promise.all(
      Array.from({ length: BURST }, () => createToFirstOutput("base")),
    );
    const burstWall = performance.now() - burstStart;

    console.log(
      `\n### Warm pool (${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, one local node, runc, kit ${KIT_VOLUME})\n`,
    );
    console.log("| measure | p50 | p99 |\n|---|---|---|");
    const row = (name: string, xs: number[]) =>
      console.log(`| ${name} | ${ms(quantile(xs, 0.5))} ms | ${ms(quantile(xs, 0.99))} ms |`);
    row(`warm: Sandbox.create() → first output (${warm.length}, one by one)`, warm);
    row(`warm: of which Sandbox.create() returning`, warmCreate);
    row(
      `warm: of which the first command (create returned → first output)`,
      warm.map((w, i) => w - (warmCreate[i] ?? 0)),
    );
    row(`cold: Sandbox.create() → first output (${cold.length}, one by one)`, cold);
    row(
      `burst: ${BURST} Sandbox.create() at once on a pool of ${BURST} ready (wall ${ms(burstWall)} ms)`,
      burst.map((b) => b.ms),
    );
    console.log(
      `\n| density | value |\n|---|---|\n| pool pods Ready at once | ${pods.items.length} (filled from 2 in ${fillSeconds.toFixed(1)} s) |\n| idle sandbox memory (pod cgroup anon, mean of ${anon.length}) | ${idleMiB.toFixed(1)} MiB |`,
    );
    console.log(
      `\npool: warm p50 ${ms(quantile(warm, 0.5))} ms p99 ${ms(quantile(warm, 0.99))} ms, cold p50 ${ms(quantile(cold, 0.5))} ms, idle sandbox ${idleMiB.toFixed(1)} MiB`,
    );
  } finally {
    await soulbox?.stop();
  }
}

await withBenchCluster("pool", main);
