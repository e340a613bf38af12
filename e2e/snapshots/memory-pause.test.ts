/**
 * Memory pause and resume through the operator on the real node: the Sandbox and Snapshot
 * controllers (in this process, scoped to one namespace per test) and a real node agent on this
 * host with its Memory settings (containerd's ctr and socket, the kubelet with the cluster's admin
 * client certificate, as the chart gives the agent a ServiceAccount token) pause a sandbox with
 * `pauseMode: Memory` (frozen, checkpointed through the kubelet into the file store and a
 * checkpoint image, the pod deleted) and resume it (a new pod on the same node from the checkpoint
 * image, woken and thawed): a counting loop goes on from its count under the same pid, twice;
 * the first pause's Snapshot goes once the second is stored, and its checkpoint image with it.
 * A checkpoint whose image is gone from the node and whose stored archive was corrupted is
 * refused with a RestoreFailed condition. Times are printed.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import type { Sandbox, Snapshot } from "../../api/gen/crd-types.js";
import { createLogger } from "../../lib/log.js";
import { openObjectStore, type ObjectStore } from "../../lib/storage/index.js";
import {
  removeCheckpointImage,
  runCtr,
  type ContainerdClient,
} from "../../node-agent/src/memory/checkpoint-image.js";
import {
  startNodeAgent,
  type AgentUnderTest,
} from "../../node-agent/test-support/agent-process.js";
import { createNodeAgentClient } from "../../operator/src/controller/node-agent-client.js";
import {
  startSandboxController,
  type SandboxController,
} from "../../operator/src/controller/sandbox-controller.js";
import { createOperatorMetrics } from "../../operator/src/metrics.js";
import {
  IMAGES,
  conditionOf,
  installCrds,
  sandboxApi,
  snapshotApi,
} from "../../operator/test-support/operator.js";
import {
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { sdkSandboxAt } from "../envd-sdk/sandbox.js";

const NODE = "soulbox-node";
const BIN = fileURLToPath(new URL("../cluster/.bin/", import.meta.url));
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const STATE = process.env.SOULBOX_CLUSTER_DIR ?? "";
let base: string;
let storeDir: string;
let store: ObjectStore;
let agent: AgentUnderTest;
let ns: { name: string; dispose(): Promise<void> };
let controller: SandboxController;
let sandboxes: ReturnType<typeof sandboxApi>;
let snapshots: ReturnType<typeof snapshotApi>;

const containerd = (): ContainerdClient => ({
  ctr: join(BIN, "ctr"),
  address: join(STATE, "containerd", "containerd.sock"),
});

/** The agent's Memory flags for the local node (the chart passes the same from its values). */
async function memoryFlags(): Promise<string[]> {
  const pki = join(STATE, "pki");
  const port = (await readFile(join(STATE, "kubelet.port"), "utf8")).trim();
  const node = await core.readNode({ name: NODE });
  const ip = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  if (!ip) throw new Error(`node ${NODE} has no InternalIP`);
  return [
    "--ctr",
    containerd().ctr,
    "--containerd-address",
    containerd().address,
    "--kubelet-url",
    `https://${ip}:${port}`,
    "--kubelet-ca",
    join(pki, "ca.crt"),
    "--kubelet-cert",
    join(pki, "admin.crt"),
    "--kubelet-key",
    join(pki, "admin.key"),
    "--work-dir",
    join(base, "work"),
  ];
}

beforeAll(async () => {
  if (!STATE)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the cluster tests need jest's global setup");
  await ensureNode();
  installCrds();
  base = await mkdtemp(join(tmpdir(), "sbx-memory-pause-"));
  storeDir = join(base, "store");
  await mkdir(storeDir);
  await mkdir(join(base, "work"));
  store = await openObjectStore(`file://${storeDir}`);
  agent = await startNodeAgent({
    storageUrl: `file://${storeDir}`,
    containerdState: join(STATE, "containerd", "state"),
    kubeletRoot: join(STATE, "node", "kubelet"),
    cacheDir: join(base, "cache"),
    args: await memoryFlags(),
  });
}, 20 * 60_000);
afterAll(async () => {
  await agent?.stop();
  await store?.close();
  await rm(base, { recursive: true, force: true });
});
beforeEach(async () => {
  ns = await testNamespace(kc, "mempause");
  sandboxes = sandboxApi(kc, ns.name);
  snapshots = snapshotApi(kc, ns.name);
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    log: createLogger("warn", {}),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
    agent: createNodeAgentClient({ port: agent.port, token: agent.token, timeoutMs: 180_000 }),
    store,
  });
  await controller.synced;
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await controller.stop();
  await ns.dispose();
  // The checkpoint images this namespace's Snapshots made (Snapshot deletion leaves them to the
  // node's image garbage collection).
  const prefix = `localhost/soulbox/checkpoint/${ns.name}/`;
  const refs = (await runCtr(containerd(), ["images", "ls", "-q"]))
    .split("\n")
    .filter((r) => r.startsWith(prefix));
  for (const ref of refs) await removeCheckpointImage(containerd(), ref);
});

/** What the sandbox, its Snapshots, its pod and the agent were doing, for a wait that failed. */
async function explain(name: string, err: unknown): Promise<never> {
  const sb = await sandboxes.get(name).catch(() => undefined);
  const snaps = await snapshots.list().catch(() => []);
  const pod = await core.readNamespacedPod({ name, namespace: ns.name }).catch(() => undefined);
  throw new Error(
    [
      String(err),
      `sandbox status: ${JSON.stringify(sb?.status)}`,
      `snapshots: ${JSON.stringify(snaps.map((s) => [s.metadata.name, s.status?.phase, s.status?.conditions]))}`,
      `pod status: ${JSON.stringify(pod?.status)}`,
      `agent:\n${agent.output().slice(-3000)}`,
    ].join("\n"),
  );
}

const phaseIs = (name: string, phase: string, timeoutMs = 180_000) =>
  waitFor(
    `sandbox ${name} ${phase}`,
    async () => {
      const sb = await sandboxes.get(name);
      return sb.status?.phase === phase ? sb : undefined;
    },
    timeoutMs,
  ).catch((err: unknown) => explain(name, err));

const ready = (name: string, timeoutMs = 180_000) =>
  waitFor(
    `sandbox ${name} Ready`,
    async () => {
      const sb = await sandboxes.get(name);
      return conditionOf(sb, "Ready")?.status === "True" &&
        conditionOf(sb, "Paused")?.status === "False"
        ? sb
        : undefined;
    },
    timeoutMs,
  ).catch((err: unknown) => explain(name, err));

async function tokenOf(name: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name: `${name}-envd`, namespace: ns.name });
  return Buffer.from(secret.data?.token ?? "", "base64").toString("utf8");
}

async function run(sb: Sandbox, cmd: string): Promise<string> {
  const sdk = sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf(sb.metadata.name ?? ""));
  return (await sdk.commands.run(cmd)).stdout;
}

const podGone = (name: string) =>
  waitFor(`pod ${name} gone`, async () => {
    const pod = await core
      .readNamespacedPod({ name, namespace: ns.name })
      .catch((err: unknown) =>
        (err as { code?: number }).code === 404 ? null : Promise.reject(err),
      );
    return pod === null ? true : undefined;
  });

const COUNTER =
  "i=0; while true; do echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; i=$((i+1)); sleep 0.05; done";

const count = async (sb: Sandbox) => Number((await run(sb, "cat /tmp/counter")).trim());

/** Starts the counting loop in `sb` and leaves it running; resolves to its pid once it counts. */
async function startCounter(sb: Sandbox): Promise<number> {
  const sdk = sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf(sb.metadata.name ?? ""));
  const handle = await sdk.commands.run(`bash -c '${COUNTER}'`, { background: true });
  await waitFor("the counter past 20", async () => ((await count(sb)) > 20 ? true : undefined));
  return handle.pid;
}

/** Pauses `name` with pauseMode Memory and waits until it is Paused with its pod gone. */
async function pauseMemory(name: string): Promise<Snapshot> {
  await sandboxes.patch(name, { spec: { state: "Paused", pauseMode: "Memory" } });
  const paused = await phaseIs(name, "Paused");
  expect(conditionOf(paused, "Paused")).toMatchObject({ status: "True", reason: "SnapshotStored" });
  await podGone(name);
  const snap = await snapshots.get(paused.status?.lastSnapshot ?? "");
  expect(snap.spec.mode).toBe("Memory");
  expect(snap.status).toMatchObject({ phase: "Ready", node: NODE, image: IMAGES.base });
  expect(snap.status?.parts).toEqual([
    expect.objectContaining({ name: "memory", sha256: snap.status?.sha256 }),
  ]);
  return snap;
}

test("a counting loop survives two Memory pauses and resumes through the operator, counting on under the same pid", async () => {
  await sandboxes.create("counter", { template: { image: IMAGES.base } });
  let sb = await ready("counter");
  const token = await tokenOf("counter");
  const hostname = await run(sb, "hostname");
  const pid = await startCounter(sb);
  const seen = new Set<string>();
  let earlierImage = "";
  for (let cycle = 1; cycle <= 2; cycle++) {
    const before = await count(sb);
    const t0 = Date.now();
    const snap = await pauseMemory("counter");
    const pauseMs = Date.now() - t0;
    expect(seen.has(snap.metadata.name ?? "")).toBe(false);
    seen.add(snap.metadata.name ?? "");
    if (earlierImage) {
      // The earlier pause Snapshot goes with this one stored; its finalizer removes its image.
      const images = async () => (await runCtr(containerd(), ["images", "ls", "-q"])).split("\n");
      await waitFor("the earlier checkpoint image removed from the node", async () =>
        (await images()).includes(earlierImage) ? undefined : true,
      );
      expect(await images()).toContain(snap.status?.checkpointImage);
    }
    earlierImage = snap.status?.checkpointImage ?? "";

    const t1 = Date.now();
    await sandboxes.patch("counter", { spec: { state: "Running" } });
    sb = await ready("counter");
    const resumeMs = Date.now() - t1;
    const pod = await core.readNamespacedPod({ name: "counter", namespace: ns.name });
    expect(pod.spec?.containers.find((c) => c.name === "sandbox")?.image).toBe(
      snap.status?.checkpointImage,
    );
    expect(pod.spec?.nodeName).toBe(NODE);
    // The same process, going on from its memory: the count never went back.
    const after = await count(sb);
    expect(after).toBeGreaterThanOrEqual(before);
    await waitFor("the counter moving again", async () =>
      (await count(sb)) > after + 5 ? true : undefined,
    );
    expect((await run(sb, `kill -0 ${pid} && echo alive`)).trim()).toBe("alive");
    expect(await tokenOf("counter")).toBe(token);
    expect(await run(sb, "hostname")).toBe(hostname);
    console.log(
      `Memory pause cycle ${cycle}: pause to Paused ${pauseMs} ms (archive ${(Number(snap.status?.size) / 2 ** 20).toFixed(1)} MiB), resume to Ready ${resumeMs} ms; count ${before} → ${after}`,
    );
  }
}, 900_000);

test("a Memory checkpoint whose image is gone and whose stored archive was corrupted is refused on resume (RestoreFailed)", async () => {
  await sandboxes.create("victim", { template: { image: IMAGES.base } });
  const sb = await ready("victim");
  await startCounter(sb);
  const snap = await pauseMemory("victim");
  // The node lost the image (as its image garbage collection may do): the agent must put it back
  // from the store, and the store's bytes were changed.
  await removeCheckpointImage(containerd(), snap.status?.checkpointImage ?? "");
  await corrupt(snap);
  await sandboxes.patch("victim", { spec: { state: "Running" } });
  const refused = await waitFor(
    "the restore refused",
    async () => {
      const s = await sandboxes.get("victim");
      return conditionOf(s, "Ready")?.reason === "RestoreFailed" ? s : undefined;
    },
    180_000,
  ).catch((err: unknown) => explain("victim", err));
  expect(conditionOf(refused, "Ready")?.message).toMatch(
    /refusing to restore the Memory Snapshot .*sha256/i,
  );
  expect(refused.status?.phase).not.toBe("Running");
}, 600_000);

/** Flips a byte in the middle of the Snapshot's stored blob (file store: manifest → .blobs/). */
async function corrupt(snap: Snapshot): Promise<void> {
  const key = snap.status?.parts?.[0]?.key ?? "";
  const manifest = await readFile(join(storeDir, key), "utf8");
  const blobs = join(storeDir, ".blobs");
  const blob = (await readdir(blobs)).find((n) => manifest.includes(n));
  if (!blob) throw new Error(`no blob of ${key} in ${blobs}`);
  const bytes = await readFile(join(blobs, blob));
  const at = bytes.length >> 1;
  bytes.writeUInt8((bytes.readUInt8(at) ^ 0xff) & 0xff, at);
  await writeFile(join(blobs, blob), bytes);
}
