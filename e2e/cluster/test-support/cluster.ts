import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { useSharedApiServer, withApiServerExclusive } from "./api-server-lock.js";

/** The cluster CLI (`e2e/cluster/cluster`). */
export const CLUSTER_CLI = fileURLToPath(new URL("../cluster", import.meta.url));

/** Runs a cluster subcommand against the test run's state dir; throws with its output on failure. */
export function clusterCommand(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { stdout: string; stderr: string } {
  const r = spawnSync(CLUSTER_CLI, args, { env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`cluster ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * Restarts the run's shared kube-apiserver when no other test file is using it (see
 * api-server-lock.ts); returns when it answers again.
 */
export async function restartSharedApiServer(): Promise<void> {
  await withApiServerExclusive(() => clusterCommand(["restart", "kube-apiserver"]));
}

/**
 * How long a test that calls {@link restartSharedApiServer} may take: it may first wait for the
 * test another file has in flight (a few minutes at most) to end.
 */
export const RESTART_TEST_TIMEOUT_MS = 360_000;

/** A KubeConfig for the test cluster (KUBECONFIG is set by jest's global setup). */
export function kubeConfig(): k8s.KubeConfig {
  const path = process.env.KUBECONFIG;
  if (!path) throw new Error("KUBECONFIG is not set: the cluster tests need jest's global setup");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * How long a hook that calls {@link testNamespace} needs: a wait for another file's API server
 * restart to end, its wait for the default ServiceAccount (120 s) and the namespace's creation,
 * more than jest's 60 s default. With less, a slow controller-manager (just restarted by another
 * test file) timed the hook out while it went on in the background and later overwrote the next
 * test's namespace.
 */
export const TEST_NAMESPACE_TIMEOUT_MS = 240_000;

/** Creates a fresh namespace for one test; `dispose` deletes it. */
export async function testNamespace(
  kc: k8s.KubeConfig,
  prefix = "t",
): Promise<{ name: string; dispose(): Promise<void> }> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
  // The namespace's test uses the shared API server until it is disposed: no restart meanwhile.
  const done = await useSharedApiServer();
  try {
    await createAndAwait(core, name);
  } catch (err) {
    await done();
    throw err;
  }
  return {
    name,
    async dispose() {
      await core.deleteNamespace({ name }).catch(() => undefined);
      await done();
    },
  };
}

async function createAndAwait(core: k8s.CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  // Pods are refused until the controller-manager made the namespace's default ServiceAccount,
  // which can take a while when another test file just restarted the API server.
  await waitFor(
    `the default ServiceAccount of ${name}`,
    () => core.readNamespacedServiceAccount({ name: "default", namespace: name }),
    120_000,
  );
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Makes sure the node is there. Jest's global setup brings it up (unless
 * SOULBOX_NODE=off, when this brings it up itself); waiting through the API
 * rather than running `up` again matters, because other test files restart
 * the API server and a second `up` racing a restart would fail.
 */
export async function ensureNode(timeoutMs = 120_000): Promise<void> {
  if (process.env.SOULBOX_NODE === "off") {
    clusterCommand(["up", "--with-node"]);
    return;
  }
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  await waitFor(
    "node soulbox-node Ready",
    async () => {
      const node = await core.readNode({ name: "soulbox-node" });
      return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        ? true
        : undefined;
    },
    timeoutMs,
  );
}
