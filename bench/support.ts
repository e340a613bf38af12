/**
 * What the cluster benchmarks share: progress lines on stderr, quantiles, and a local cluster with
 * a node of the bench's own (its own state dir), taken down by pid when the bench ends.
 */
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
