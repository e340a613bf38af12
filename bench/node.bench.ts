/**
 * Local node benchmark (`npm run bench:node`, as root): brings up throwaway clusters with
 * `e2e/cluster/cluster` and prints a Markdown table of
 * - the cold build of every node image (an empty image cache: pause, sandbox-base by
 *   debootstrap, the executor kit, envd, operator, busybox), read from the cluster's own
 *   "built image X in N s" lines, and that `up --with-node` end to end;
 * - `up --with-node` with the images cached: the whole command, and its node part (containerd
 *   start, image import, kubelet registration until the Node is Ready);
 * - pod create → Running over 20 pods of sandbox-base, one by one and all at once;
 * - sandbox pods per the pod contract (envd sidecar + injected executor) create → Ready, one by
 *   one and all at once.
 * Every cluster it starts it stops (`cluster down`), also on failure.
 * `--warm` skips the cold image build (the slow part: debootstrap).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { CLUSTER_CLI } from "../e2e/cluster/test-support/cluster.js";
import { contractPod } from "../e2e/cluster/test-support/sandbox-pod.js";

const PODS = 20;
const BASE_IMAGE = "localhost/soulbox/sandbox-base:latest";
const POLL_MS = 50;
const POD_TIMEOUT_MS = 300_000;

interface Row {
  what: string;
  value: string;
}

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** Runs the cluster CLI; returns its stdout, stderr and wall time; throws with its output on failure. */
function cluster(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(CLUSTER_CLI, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ stdout, stderr, ms });
      else reject(new Error(`cluster ${args.join(" ")} failed (${code}):\n${stderr}`));
    });
  });
}

/** A cluster of its own (state dir, optionally image cache) for the length of `body`. */
async function withCluster<T>(
  imagesDir: string | undefined,
  body: (up: { stderr: string; ms: number; kc: k8s.KubeConfig }) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-bench-node-"));
  const env: NodeJS.ProcessEnv = { ...process.env, SOULBOX_CLUSTER_DIR: join(dir, "cluster") };
  if (imagesDir) env.SOULBOX_IMAGES_DIR = imagesDir;
  try {
    const up = await cluster(["up", "--with-node"], env);
    const match = /^export KUBECONFIG=(.+)$/m.exec(up.stdout);
    if (!match?.[1]) throw new Error(`cluster up printed no KUBECONFIG line:\n${up.stdout}`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(match[1]);
    return await body({ stderr: up.stderr, ms: up.ms, kc });
  } finally {
    await cluster(["down"], env).catch((err: unknown) => progress(`down failed: ${String(err)}`));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Seconds from a "<what> in N s" line the cluster printed. */
function reported(stderr: string, what: RegExp): number | undefined {
  const m = new RegExp(`${what.source} in (\\d+) s`).exec(stderr);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A fresh namespace (its default ServiceAccount must exist before pods can be created). */
async function namespace(core: k8s.CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await core.readNamespacedServiceAccount({ name: "default", namespace: name }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name}`);
    await sleep(100);
  }
}

function plainPod(name: string): k8s.V1Pod {
  return {
    metadata: { name },
    spec: {
      runtimeClassName: "kata",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: "main",
          image: BASE_IMAGE,
          imagePullPolicy: "Never",
          command: ["sleep", "infinity"],
        },
      ],
    },
  };
}

const isRunning = (p: k8s.V1Pod) => p.status?.phase === "Running";
const isReady = (p: k8s.V1Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * Creates `count` pods (all at once, or each after the previous one is done) and returns each
 * one's milliseconds from just before its create call to the first poll (every 50 ms, one list
 * call) that sees it done.
 */
async function timePods(
  core: k8s.CoreV1Api,
  ns: string,
  count: number,
  atOnce: boolean,
  make: (name: string) => k8s.V1Pod,
  done: (p: k8s.V1Pod) => boolean,
  before?: (name: string) => Promise<void>,
): Promise<number[]> {
  const startedAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const create = async (name: string) => {
    await before?.(name);
    startedAt.set(name, performance.now());
    await core.createNamespacedPod({ namespace: ns, body: make(name) });
  };
  const poll = async (names: string[]) => {
    const deadline = Date.now() + POD_TIMEOUT_MS;
    while (names.some((n) => !doneAt.has(n))) {
      if (Date.now() > deadline)
        throw new Error(
          `pods not done within ${POD_TIMEOUT_MS} ms: ${names.filter((n) => !doneAt.has(n)).join(", ")}`,
        );
      const list = await core.listNamespacedPod({ namespace: ns });
      const now = performance.now();
      for (const p of list.items) {
        const n = p.metadata?.name ?? "";
        if (names.includes(n) && !doneAt.has(n) && done(p)) doneAt.set(n, now);
        if (p.status?.phase === "Failed")
          throw new Error(`pod ${n} failed: ${JSON.stringify(p.status)}`);
      }
      await sleep(POLL_MS);
    }
  };
  const names = Array.from({ length: count }, (_, i) => `p${i}`);
  if (atOnce) {
    await Promise.all([Promise.all(names.map(create)), poll(names)]);
  } else {
    for (const n of names) {
      await create(n);
      await poll([n]);
    }
  }
  return names.map((n) => (doneAt.get(n) ?? NaN) - (startedAt.get(n) ?? NaN));
}

/** p50 and p99 of the times (in creation order); one by one, also the first pod's own time. */
function podRows(what: string, ms: number[], atOnce: boolean): Row[] {
  const sorted = [...ms].sort((a, b) => a - b);
  const rows = [
    { what: `${what}, p50`, value: `${percentile(sorted, 0.5).toFixed(0)} ms` },
    { what: `${what}, p99`, value: `${percentile(sorted, 0.99).toFixed(0)} ms` },
  ];
  if (!atOnce)
    rows.push({ what: `${what}, the first pod`, value: `${(ms[0] ?? NaN).toFixed(0)} ms` });
  return rows;
}

async function main() {
  if (process.getuid?.() !== 0)
    throw new Error("the node benchmark needs root (containerd, kubelet)");
  const warm = process.argv.includes("--warm");
  const rows: Row[] = [];
  console.log(
    `# node benchmark, ${new Date().toISOString()}, ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.version}\n`,
  );

  if (!warm) {
    const images = await mkdtemp(join(tmpdir(), "soulbox-bench-images-"));
    try {
      progress("cold: up --with-node with an empty image cache");
      await withCluster(images, async (up) => {
        for (const name of ["pause", "sandbox-base", "envd", "operator", "busybox"]) {
          const s = reported(up.stderr, new RegExp(`built image ${name}`));
          rows.push({
            what: `cold build, image ${name}`,
            value: s === undefined ? "not built (see log)" : `${s} s`,
          });
        }
        rows.push({
          what: "`up --with-node`, empty image cache, whole command",
          value: seconds(up.ms),
        });
      });
    } finally {
      await rm(images, { recursive: true, force: true });
    }
  }

  progress("warm: up --with-node with the images cached");
  await withCluster(undefined, async (up) => {
    rows.push({ what: "`up --with-node`, images cached, whole command", value: seconds(up.ms) });
    const node = reported(up.stderr, /node soulbox-node ready/);
    rows.push({
      what: "`up --with-node`, images cached, node part to Node Ready",
      value: node === undefined ? "?" : `${node} s`,
    });
    const core = up.kc.makeApiClient(k8s.CoreV1Api);

    for (const atOnce of [false, true]) {
      const ns = `bench-plain-${atOnce ? "burst" : "serial"}`;
      await namespace(core, ns);
      progress(`${PODS} sandbox-base pods ${atOnce ? "at once" : "one by one"}`);
      const ms = await timePods(core, ns, PODS, atOnce, plainPod, isRunning);
      rows.push(
        ...podRows(
          `sandbox-base pod create → Running, ${PODS} ${atOnce ? "at once" : "one by one"}`,
          ms,
          atOnce,
        ),
      );
      await core.deleteNamespace({ name: ns });
    }
    for (const atOnce of [false, true]) {
      const ns = `bench-sandbox-${atOnce ? "burst" : "serial"}`;
      await namespace(core, ns);
      progress(`${PODS} contract sandbox pods ${atOnce ? "at once" : "one by one"}`);
      const secret = (name: string) =>
        core
          .createNamespacedSecret({
            namespace: ns,
            body: { metadata: { name: `${name}-envd` }, stringData: { token: "bench" } },
          })
          .then(() => undefined);
      const ms = await timePods(
        core,
        ns,
        PODS,
        atOnce,
        (name) => contractPod(name, BASE_IMAGE),
        isReady,
        secret,
      );
      rows.push(
        ...podRows(
          `sandbox pod (contract) create → Ready, ${PODS} ${atOnce ? "at once" : "one by one"}`,
          ms,
          atOnce,
        ),
      );
      await core.deleteNamespace({ name: ns });
    }
  });

  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`| ${"Measurement".padEnd(width)} | Result |`);
  console.log(`| ${"-".repeat(width)} | ------ |`);
  for (const r of rows) console.log(`| ${r.what.padEnd(width)} | ${r.value} |`);
}

await main();
