/**
 * What the cluster benchmarks share: progress lines on stderr, quantiles, and a local cluster with
 * a node of the bench's own (its own state dir), taken down by pid when the bench ends.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const CLUSTER = "e2e/cluster/cluster";

/** A progress line on stderr (the tables go to stdout). */
export const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

/**
 * Brings up a cluster with a node in a state dir named after `bench`, sets KUBECONFIG to it, runs
 * `body` with that path, and takes the cluster down whatever happens.
 */
export async function withBenchCluster(
  bench: string,
  body: (kubeconfig: string) => Promise<void>,
): Promise<void> {
  const dir = join(tmpdir(), `soulbox-bench-${bench}-${process.pid}`);
  const env = { ...process.env, SOULBOX_CLUSTER_DIR: dir };
  progress("bringing up a local cluster with a node");
  const up = spawnSync(CLUSTER, ["up", "--with-node"], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (up.status !== 0) throw new Error(`${CLUSTER} up --with-node failed`);
  const kubeconfig = join(dir, "kubeconfig");
  process.env.KUBECONFIG = kubeconfig;
  try {
    await body(kubeconfig);
  } finally {
    progress("taking the cluster down");
    spawnSync(CLUSTER, ["down"], { env, stdio: "inherit" });
  }
}

/** SoulBox's operator and gateway running as processes for one team namespace. */
export interface SoulBoxProcesses {
  /** The gateway's URL (also set as E2B_API_URL and E2B_SANDBOX_URL for the e2b SDK). */
  url: string;
  /** Stops both by pid. */
  stop(): Promise<void>;
}

/** How the benches' sandbox pods get the executor kit (SOULBOX_BENCH_KIT_VOLUME: image or copy). */
export const KIT_VOLUME = process.env.SOULBOX_BENCH_KIT_VOLUME ?? "image";

/**
 * Runs dist/operator.mjs and dist/gateway.mjs on this machine for team namespace `ns` (the
 * gateway reaches pods by their IPs, as it does in the cluster), with an API key of the team,
 * and points the e2b SDK at them through E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY.
 */
export async function startSoulBox(kubeconfig: string, ns: string): Promise<SoulBoxProcesses> {
  const keys = spawnSync(
    process.execPath,
    ["dist/gateway.mjs", "keys", "create", "--team", ns, "--namespace", ns, "--name", "bench"],
    { encoding: "utf8" },
  );
  const apiKey = /e2b_[0-9a-f]{40}/.exec(keys.stdout)?.[0];
  if (!apiKey) throw new Error(`gateway keys create failed: ${keys.stderr}`);
  const start = (args: string[]): ChildProcess =>
    spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
  const operator = start([
    "dist/operator.mjs",
    ...["--watch-namespace", ns, "--health-port", "0", "--metrics-port", "0"],
    ...["--default-runtime-class", "runc", "--log-level", "warn"],
    // The bench cluster has the ImageVolume gate on: the kit is mounted unless asked otherwise.
    ...["--kit-volume", KIT_VOLUME],
  ]);
  const port = 18000 + (process.pid % 1000);
  const gateway = start([
    "dist/gateway.mjs",
    ...["--http-port", String(port), "--health-port", "0", "--namespace", ns],
    ...["--rate-limit", "100000", "--rate-burst", "100000", "--log-level", "warn"],
    // In the cluster's state dir, which `down` removes.
    ...["--audit-log", join(dirname(kubeconfig), "gateway-audit.log")],
  ]);
  const stop = async () => {
    for (const p of [gateway, operator]) {
      if (p.exitCode !== null) continue;
      const exited = once(p, "exit");
      p.kill("SIGTERM");
      await exited;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/sandboxes`).then(
        () => true,
        () => false,
      )
    )
      break;
    await sleep(100);
  }
  Object.assign(process.env, { E2B_API_URL: url, E2B_SANDBOX_URL: url, E2B_API_KEY: apiKey });
  return { url, stop };
}
