/**
 * Gateway benchmark: brings up its own local cluster (e2e/cluster, with the node), runs
 * dist/operator.mjs and dist/gateway.mjs as processes on this machine (the gateway reaches pods
 * by their IPs, as it does in the cluster), and drives both with the official `e2b` SDK:
 * 1. `Sandbox.create()` → the first command's output, one sandbox after the other, p50/p99;
 * 2. proxy overhead per RPC: the same small RPC (Filesystem.Stat through `files.getInfo`) and a
 *    short command through the gateway (header routing, HTTP/1.1) and straight to the pod's envd.
 * Prints Markdown tables; stops the processes and the cluster by pid.
 * Run with `npm run bench:gateway` (SOULBOX_BENCH_SANDBOXES, SOULBOX_BENCH_RPCS to change counts).
 */
import { availableParallelism, totalmem } from "node:os";
import * as k8s from "@kubernetes/client-node";
import { Sandbox } from "e2b";
import { installCrds, IMAGES, sandboxApi } from "../operator/test-support/operator.js";
import { sdkSandboxAt } from "../e2e/envd-sdk/sandbox.js";
import {
  progress,
  quantile,
  startSoulBox,
  withBenchCluster,
  type SoulBoxProcesses,
} from "./support.js";

const SANDBOXES = Number(process.env.SOULBOX_BENCH_SANDBOXES ?? 20);
const RPCS = Number(process.env.SOULBOX_BENCH_RPCS ?? 300);
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(); // warm connections and JIT
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

async function main(kubeconfig: string) {
  let soulbox: SoulBoxProcesses | undefined;
  try {
    installCrds();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = `bench-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: "soulbox-template-base", labels: { "soulbox.dev/template": "base" } },
        data: { template: `image: ${IMAGES.base}\n` },
      },
    });
    soulbox = await startSoulBox(kubeconfig, ns);

    progress(`${SANDBOXES} × Sandbox.create() → first command output`);
    const toFirst: number[] = [];
    const toCreated: number[] = [];
    for (let i = 0; i < SANDBOXES; i++) {
      const t = performance.now();
      const sbx = await Sandbox.create("base", { timeoutMs: 300_000 });
      toCreated.push(performance.now() - t);
      let first = 0;
      await sbx.commands.run("echo first", {
        onStdout: () => void (first ||= performance.now()),
      });
      toFirst.push(first - t);
      if (i < SANDBOXES - 1) await sbx.kill();
      else {
        progress(`${RPCS} RPCs through the gateway and straight to envd`);
        const status = (await sandboxApi(kc, ns).get(sbx.sandboxId)).status;
        const token = (
          await core.readNamespacedSecret({ name: `${sbx.sandboxId}-envd`, namespace: ns })
        ).data?.token;
        const direct = sdkSandboxAt(
          status?.envdEndpoint ?? "",
          Buffer.from(token ?? "", "base64").toString(),
        );
        const rows: [string, number[], number[]][] = [];
        const stat = () => sbx.files.getInfo("/home/user");
        const statDirect = () => direct.files.getInfo("/home/user");
        rows.push([
          "files.getInfo (unary RPC)",
          await timed(RPCS, stat),
          await timed(RPCS, statDirect),
        ]);
        const n = Math.max(20, Math.floor(RPCS / 5));
        rows.push([
          "commands.run('true') (server stream)",
          await timed(n, () => sbx.commands.run("true")),
          await timed(n, () => direct.commands.run("true")),
        ]);
        await sbx.kill();

        console.log(
          `\n### Gateway (${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, one local node)\n`,
        );
        console.log("| measure | p50 | p99 |\n|---|---|---|");
        console.log(
          `| Sandbox.create() returns (${SANDBOXES} sandboxes, one by one) | ${ms(quantile(toCreated, 0.5))} ms | ${ms(quantile(toCreated, 0.99))} ms |`,
        );
        console.log(
          `| Sandbox.create() → first output of \`echo\` | ${ms(quantile(toFirst, 0.5))} ms | ${ms(quantile(toFirst, 0.99))} ms |`,
        );
        console.log(
          "\n| RPC (HTTP/1.1, Connect JSON) | via gateway p50 / p99 | direct to envd p50 / p99 | overhead p50 |\n|---|---|---|---|",
        );
        for (const [name, via, straight] of rows)
          console.log(
            `| ${name}, ${via.length}× | ${ms(quantile(via, 0.5))} / ${ms(quantile(via, 0.99))} ms | ${ms(quantile(straight, 0.5))} / ${ms(quantile(straight, 0.99))} ms | ${ms(quantile(via, 0.5) - quantile(straight, 0.5))} ms |`,
          );
      }
    }
  } finally {
    await soulbox?.stop();
  }
}

await withBenchCluster("gateway", main);
