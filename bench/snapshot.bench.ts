/**
 * Snapshot benchmark: brings up its own local cluster (e2e/cluster, with the node) and MinIO
 * (e2e/storage/up, the S3 backend), runs the Sandbox and Snapshot controllers in this process and
 * a real node agent on this host (as the chart's DaemonSet runs it), and for a sandbox that wrote
 * SOULBOX_BENCH_SNAPSHOT_MIB of random files (default 1024) measures, per pause mode:
 * - pause: `spec.state: Paused` → phase Paused (Filesystem: files captured to S3, pod deleted);
 * - resume: `spec.state: Running` → the first output of `echo` through envd;
 * - the stored snapshot's size.
 * Memory mode is measured once the operator can restore CRIU checkpoints (it reports why not).
 * Anchors (E2B's published figures): pause ≈ 4 s per GiB of RAM, resume ≈ 1 s; the goals
 * for Filesystem: snapshot ≤ 2 s and resume ≤ 1 s for 1 GiB. Prints one Markdown table and ends
 * with exactly one line (a stable interface):
 * `snapshot: filesystem pause <a> s resume <b> s for <n> MiB (<r>x E2B's resume)`.
 * Stops the agent, MinIO and the cluster by pid. Run with `npm run bench:snapshot`.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { Sandbox } from "../api/gen/crd-types.js";
import { createLogger } from "../lib/log.js";
import { storageFromEnvironment } from "../lib/storage/index.js";
import { startNodeAgent } from "../node-agent/test-support/agent-process.js";
import { createNodeAgentClient } from "../operator/src/controller/node-agent-client.js";
import { startSandboxController } from "../operator/src/controller/sandbox-controller.js";
import { createOperatorMetrics } from "../operator/src/metrics.js";
import { IMAGES, conditionOf, installCrds, sandboxApi } from "../operator/test-support/operator.js";
import { sdkSandboxAt } from "../e2e/envd-sdk/sandbox.js";
import { progress, sleep, withBenchCluster } from "./support.js";

const MIB = Number(process.env.SOULBOX_BENCH_SNAPSHOT_MIB ?? 1024);
const E2B_PAUSE_S_PER_GIB = 4;
const E2B_RESUME_S = 1;
const s = (ms: number) => (ms / 1000).toFixed(2);

type Env = Record<string, string>;

async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 600_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

interface Row {
  mode: string;
  pauseMs?: number;
  resumeMs?: number;
  bytes?: number;
  note?: string;
}

async function measureFilesystem(kubeconfig: string, env: Env, dir: string): Promise<Row> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const ns = "bench-snapshot";
  await core.createNamespace({ body: { metadata: { name: ns } } });
  installCrds();
  Object.assign(process.env, {
    SOULBOX_STORAGE_URL: env.SOULBOX_STORAGE_S3_URL,
    SOULBOX_STORAGE_CREDENTIALS: env.SOULBOX_STORAGE_S3_CREDENTIALS,
  });
  const store = await storageFromEnvironment();
  const state = join(kubeconfig, "..");
  const agent = await startNodeAgent({
    storageUrl: env.SOULBOX_STORAGE_S3_URL ?? "",
    env: { SOULBOX_STORAGE_CREDENTIALS: env.SOULBOX_STORAGE_S3_CREDENTIALS ?? "" },
    containerdState: join(state, "containerd", "state"),
    kubeletRoot: join(state, "node", "kubelet"),
    cacheDir: join(dir, "cache"),
  });
  const controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns,
    log: createLogger("warn", {}),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
    agent: createNodeAgentClient({ port: agent.port, token: agent.token }),
    ...(store ? { store } : {}),
  });
  try {
    await controller.synced;
    const sandboxes = sandboxApi(kc, ns);
    const readyOf = () =>
      until("Ready", async () => {
        const sb = await sandboxes.get("bench");
        return conditionOf(sb, "Ready")?.status === "True" ? sb : undefined;
      });
    const sdk = async (sb: Sandbox) => {
      const secret = await core.readNamespacedSecret({ name: "bench-envd", namespace: ns });
      return sdkSandboxAt(
        sb.status?.envdEndpoint ?? "",
        Buffer.from(secret.data?.token ?? "", "base64").toString(),
      );
    };
    await sandboxes.create("bench", { template: { image: IMAGES.base } });
    let sb = await readyOf();
    progress(`writing ${MIB} MiB of random files in the sandbox`);
    const files = Math.max(1, Math.ceil(MIB / 64));
    await (
      await sdk(sb)
    ).commands.run(
      `mkdir -p /home/user/data && for i in $(seq 1 ${files}); do head -c ${Math.min(MIB, 64)}M /dev/urandom > /home/user/data/f$i; done`,
      { timeoutMs: 0 },
    );
    progress("pausing (Filesystem)");
    const t0 = performance.now();
    await sandboxes.patch("bench", { spec: { state: "Paused", pauseMode: "Filesystem" } });
    sb = await until("Paused", async () => {
      const x = await sandboxes.get("bench");
      return x.status?.phase === "Paused" ? x : undefined;
    });
    const pauseMs = performance.now() - t0;
    const snap = (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
      group: "soulbox.dev",
      version: "v1alpha1",
      plural: "snapshots",
      namespace: ns,
      name: sb.status?.lastSnapshot ?? "",
    })) as { status?: { size?: number } };
    progress("resuming");
    const t1 = performance.now();
    await sandboxes.patch("bench", { spec: { state: "Running" } });
    sb = await readyOf();
    let first = 0;
    await (
      await sdk(sb)
    ).commands.run("echo first", { onStdout: () => void (first ||= performance.now()) });
    const resumeMs = first - t1;
    const check = await (await sdk(sb)).commands.run("du -sm /home/user/data | cut -f1");
    if (Number(check.stdout.trim()) < MIB)
      throw new Error(`the resumed sandbox has ${check.stdout.trim()} MiB, not ${MIB}`);
    return { mode: "Filesystem", pauseMs, resumeMs, bytes: Number(snap.status?.size ?? 0) };
  } finally {
    await controller.stop();
    await agent.stop();
    await store?.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-bench-snapshot-"));
  const env = { ...process.env, SOULBOX_STORAGE_DIR: join(dir, "servers") } as Env;
  const down = () =>
    execFileSync("e2e/storage/down", ["--purge"], { env, stdio: ["ignore", "ignore", "inherit"] });
  const rows: Row[] = [];
  try {
    progress("starting MinIO (e2e/storage/up)");
    const out = execFileSync("e2e/storage/up", {
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    for (const m of out.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
    await withBenchCluster("snapshot", async (kubeconfig) => {
      rows.push(await measureFilesystem(kubeconfig, env, dir));
    });
  } finally {
    down();
    await rm(dir, { recursive: true, force: true });
  }
  rows.push({
    mode: "Memory",
    note: "not measured: the operator cannot restore CRIU checkpoints yet (Snapshot reason ModeNotSupported)",
  });

  console.log(
    `Snapshots of a sandbox with ${MIB} MiB of random files on the S3 backend (MinIO on loopback); ` +
      `${availableParallelism()} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB\n`,
  );
  console.log(
    "| mode | pause (s) | resume to first output (s) | snapshot size (MiB) | pause vs E2B (4 s/GiB) | resume vs E2B (1 s) | note |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    const gib = MIB / 1024;
    const cells = [
      r.mode,
      r.pauseMs === undefined ? "—" : s(r.pauseMs),
      r.resumeMs === undefined ? "—" : s(r.resumeMs),
      r.bytes === undefined ? "—" : (r.bytes / 2 ** 20).toFixed(0),
      r.pauseMs === undefined
        ? "—"
        : `${(r.pauseMs / 1000 / (E2B_PAUSE_S_PER_GIB * gib)).toFixed(2)}x`,
      r.resumeMs === undefined ? "—" : `${(r.resumeMs / 1000 / E2B_RESUME_S).toFixed(2)}x`,
      r.note ?? "",
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
  const fs = rows[0];
  console.log(
    `\nsnapshot: filesystem pause ${s(fs?.pauseMs ?? 0)} s resume ${s(fs?.resumeMs ?? 0)} s for ${MIB} MiB (${((fs?.resumeMs ?? 0) / 1000 / E2B_RESUME_S).toFixed(2)}x E2B's resume)`,
  );
}

await main();
