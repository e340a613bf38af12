/**
 * Filesystem snapshots on the real node: the Sandbox and Snapshot controllers (in this process,
 * scoped to one namespace per test) and a real node agent on this host (as the chart's
 * DaemonSet runs it: host network, root) capture a sandbox container's overlay changes into a
 * file store and put them back into new pods: pause and resume five times in a row, a named
 * Snapshot, a fork, a fork into a SandboxPool's ready pod, and the faults (a missing or corrupted Snapshot, the agent down mid-pause,
 * a Snapshot of no sandbox, objects deleted with their Snapshot).
 */
import { access, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import {
  SandboxPoolResource,
  type Sandbox,
  type SandboxPool,
  type Snapshot,
} from "../../api/gen/crd-types.js";
import { Label } from "../../api/labels.js";
import { RESTORE_FROM_ANNOTATION } from "../../api/snapshot.js";
import { createLogger } from "../../lib/log.js";
import { openObjectStore, type ObjectStore } from "../../lib/storage/index.js";
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
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { sdkSandboxAt } from "../envd-sdk/sandbox.js";

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

async function startAgent(port?: number, token?: string) {
  agent = await startNodeAgent({
    storageUrl: `file://${storeDir}`,
    containerdState: join(STATE, "containerd", "state"),
    kubeletRoot: join(STATE, "node", "kubelet"),
    cacheDir: join(base, "cache"),
    ...(port ? { port } : {}),
    ...(token ? { token } : {}),
  });
}

beforeAll(async () => {
  if (!STATE)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the cluster tests need jest's global setup");
  installCrds();
  base = await mkdtemp(join(tmpdir(), "sbx-snapshots-"));
  storeDir = join(base, "store");
  await rm(storeDir, { recursive: true, force: true });
  await import("node:fs/promises").then((fs) => fs.mkdir(storeDir));
  store = await openObjectStore(`file://${storeDir}`);
  await startAgent();
});
afterAll(async () => {
  await agent?.stop();
  await store?.close();
  await rm(base, { recursive: true, force: true });
});
beforeEach(async () => {
  ns = await testNamespace(kc, "snap");
  sandboxes = sandboxApi(kc, ns.name);
  snapshots = snapshotApi(kc, ns.name);
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    log: createLogger("warn", {}),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
    agent: createNodeAgentClient({ port: agent.port, token: agent.token, timeoutMs: 120_000 }),
    store,
  });
  await controller.synced;
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await controller.stop();
  await ns.dispose();
});

const phaseIs = (name: string, phase: string, timeoutMs = 120_000) =>
  waitFor(
    `sandbox ${name} ${phase}`,
    async () => {
      const sb = await sandboxes.get(name);
      return sb.status?.phase === phase ? sb : undefined;
    },
    timeoutMs,
  );

const ready = (name: string, timeoutMs = 120_000) =>
  waitFor(
    `sandbox ${name} Ready`,
    async () => {
      const sb = await sandboxes.get(name);
      return conditionOf(sb, "Ready")?.status === "True" ? sb : undefined;
    },
    timeoutMs,
  );

const snapshotPhase = (name: string, phase: string, timeoutMs = 120_000) =>
  waitFor(
    `Snapshot ${name} ${phase}`,
    async () => {
      const s = await snapshots.get(name);
      return s.status?.phase === phase ? s : undefined;
    },
    timeoutMs,
  );

async function tokenOf(name: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name: `${name}-envd`, namespace: ns.name });
  return Buffer.from(secret.data?.token ?? "", "base64").toString("utf8");
}

async function sdkOf(sb: Sandbox) {
  return sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf(sb.metadata.name ?? ""));
}

async function run(sb: Sandbox, cmd: string): Promise<string> {
  return (await (await sdkOf(sb)).commands.run(cmd)).stdout;
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

test("five Filesystem pauses in a row keep every file, deletion and owner; the same token and hostname come back", async () => {
  await sandboxes.create("keeper", { template: { image: IMAGES.base } });
  let sb = await ready("keeper");
  const token = await tokenOf("keeper");
  const hostname = await run(sb, "hostname");
  await run(
    sb,
    "sudo rm /etc/debian_version && mkdir -p /home/user/work && echo first > /home/user/work/0.txt",
  );
  const seen = new Set<string>();
  for (let i = 1; i <= 5; i++) {
    await run(
      sb,
      `echo cycle-${i} > /home/user/work/${i}.txt && sudo chown root:root /home/user/work/${i}.txt`,
    );
    await sandboxes.patch("keeper", { spec: { state: "Paused", pauseMode: "Filesystem" } });
    const paused = await phaseIs("keeper", "Paused");
    expect(conditionOf(paused, "Paused")).toMatchObject({
      status: "True",
      reason: "SnapshotStored",
    });
    expect(conditionOf(paused, "Ready")).toMatchObject({
      status: "False",
      reason: "PausedToSnapshot",
    });
    const last = paused.status?.lastSnapshot ?? "";
    expect(seen.has(last)).toBe(false);
    seen.add(last);
    await podGone("keeper");
    const snap = await snapshots.get(last);
    expect(snap.status).toMatchObject({ phase: "Ready", image: IMAGES.base });
    expect(snap.status?.parts?.[0]).toMatchObject({
      name: "filesystem",
      sha256: snap.status?.sha256,
    });

    await sandboxes.patch("keeper", { spec: { state: "Running" } });
    sb = await ready("keeper");
    expect(await tokenOf("keeper")).toBe(token);
    const listing = await run(
      sb,
      "cat /home/user/work/*.txt; stat -c %U /home/user/work/*.txt | sort | uniq -c; hostname; test -e /etc/debian_version && echo back || echo deleted",
    );
    expect(listing).toBe(
      [
        "first",
        ...Array.from({ length: i }, (_, k) => `cycle-${k + 1}`),
        `      ${i} root`,
        "      1 user",
        hostname.trim(),
        "deleted",
        "",
      ].join("\n"),
    );
  }
  // Only the newest pause Snapshot is kept: each holds every file.
  const left = await waitFor("older pause Snapshots deleted", async () => {
    const list = (await snapshots.list()).filter((s) => !s.metadata.deletionTimestamp);
    return list.length === 1 ? list : undefined;
  });
  expect(left[0]?.metadata.name).toBe((await sandboxes.get("keeper")).status?.lastSnapshot);

  // A Sandbox deleted while paused takes its pause Snapshot, and the stored object, with it.
  await sandboxes.patch("keeper", { spec: { state: "Paused", pauseMode: "Filesystem" } });
  const paused = await phaseIs("keeper", "Paused");
  const pauseSnap = await snapshots.get(paused.status?.lastSnapshot ?? "");
  const key = pauseSnap.status?.parts?.[0]?.key ?? "";
  expect((await store.head(key)).size).toBeGreaterThan(0);
  await sandboxes.delete("keeper");
  await waitFor("the pause Snapshot gone with its Sandbox", async () =>
    (await snapshots.getOrUndefined(pauseSnap.metadata.name ?? "")) ? undefined : true,
  );
  await expect(store.head(key)).rejects.toMatchObject({ code: "NotFound" });
}, 240_000);

test("an operator replaced mid-pause finishes the pause: one capture, one pod at a time, the files kept", async () => {
  await sandboxes.create("handover", { template: { image: IMAGES.base } });
  const sb = await ready("handover");
  await run(sb, "echo handed-over > /home/user/h.txt");
  await sandboxes.patch("handover", { spec: { state: "Paused", pauseMode: "Filesystem" } });
  await waitFor("the pause capturing", async () =>
    (await snapshots.list()).some(
      (s) => s.status?.phase === "InProgress" || s.status?.phase === "Ready",
    )
      ? true
      : undefined,
  );
  // The leader goes away mid-pause; the next one picks up from the objects alone.
  await controller.stop();
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    log: createLogger("warn", {}),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
    agent: createNodeAgentClient({ port: agent.port, token: agent.token, timeoutMs: 120_000 }),
    store,
  });
  await controller.synced;
  await phaseIs("handover", "Paused");
  expect(
    (await snapshots.list()).filter(
      (s) => s.metadata.labels?.["soulbox.dev/pause-of"] === "handover",
    ),
  ).toHaveLength(1);
  await sandboxes.patch("handover", { spec: { state: "Running" } });
  expect(await run(await ready("handover"), "cat /home/user/h.txt")).toBe("handed-over\n");
});

test("a named Snapshot of a running sandbox lets it run on, and a fork starts from it", async () => {
  await sandboxes.create("origin", { template: { image: IMAGES.base } });
  const origin = await ready("origin");
  await run(origin, "echo from-origin > /home/user/note.txt");
  await snapshots.create("named", { sandbox: "origin" });
  const snap = await snapshotPhase("named", "Ready");
  expect(snap.metadata.finalizers).toContain("soulbox.dev/snapshot-storage");
  expect(snap.status).toMatchObject({
    template: { image: IMAGES.base },
    location: expect.stringContaining(`file://${storeDir}`),
  });
  expect(snap.status?.startTime).toBeDefined();
  expect(snap.status?.completionTime).toBeDefined();
  // The origin was thawed: it answers, and keeps its own changes apart from the fork's.
  expect(
    await run(origin, "echo still-here >> /home/user/note.txt && cat /home/user/note.txt"),
  ).toBe("from-origin\nstill-here\n");

  await sandboxes.create("fork", { restoreFrom: "named" });
  const fork = await ready("fork");
  expect(await run(fork, "cat /home/user/note.txt")).toBe("from-origin\n");

  // Deleting the Snapshot deletes its stored object (the finalizer), and the fork runs on.
  const key = snap.status?.parts?.[0]?.key ?? "";
  expect((await store.head(key)).sha256).toBe(snap.status?.sha256);
  await snapshots.delete("named");
  await waitFor("the Snapshot gone", async () =>
    (await snapshots.getOrUndefined("named")) ? undefined : true,
  );
  await expect(store.head(key)).rejects.toMatchObject({ code: "NotFound" });
  expect(await run(fork, "echo ok")).toBe("ok\n");
});

test("a fork of a template a SandboxPool serves restores into a ready pool pod: the files, its own token, no cold pod; resumed later, it keeps the pool pod's hostname", async () => {
  await core.createNamespacedConfigMap({
    namespace: ns.name,
    body: { metadata: { name: "base" }, data: { template: `image: ${IMAGES.base}\n` } },
  });
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const pools = { ...SandboxPoolResource, namespace: ns.name };
  await custom.createNamespacedCustomObject({
    ...pools,
    body: {
      apiVersion: SandboxPoolResource.apiVersion,
      kind: SandboxPoolResource.kind,
      metadata: { name: "base" },
      spec: { templateRef: "base", minReady: 1 },
    },
  });
  await sandboxes.create("source", { templateRef: "base", coldStart: true });
  const source = await ready("source");
  await run(source, "mkdir -p /home/user/w && echo from-source > /home/user/w/note.txt");
  await snapshots.create("at-note", { sandbox: "source" });
  await snapshotPhase("at-note", "Ready");
  await waitFor("a ready pool pod", async () => {
    const pool = (await custom.getNamespacedCustomObject({
      ...pools,
      name: "base",
    })) as SandboxPool;
    return (pool.status?.ready ?? 0) >= 1 ? true : undefined;
  });

  const t0 = Date.now();
  await sandboxes.create("fork", { restoreFrom: "at-note" });
  const fork = await ready("fork");
  console.log(`fork into a pool pod: create to Ready ${Date.now() - t0} ms`);
  const pod = await core.readNamespacedPod({
    name: fork.status?.podName ?? "",
    namespace: ns.name,
  });
  expect(pod.metadata?.labels?.[Label.pool]).toBe("base");
  expect(pod.metadata?.annotations?.[RESTORE_FROM_ANNOTATION]).toBe("at-note");
  await expect(core.readNamespacedPod({ name: "fork", namespace: ns.name })).rejects.toMatchObject({
    code: 404,
  });
  // envd answers to the fork's own token (given after the files were back), with the files.
  expect(await run(fork, "cat /home/user/w/note.txt")).toBe("from-source\n");
  expect(await tokenOf("fork")).not.toBe(await tokenOf("source"));
  const events = await core.listNamespacedEvent({ namespace: ns.name });
  const reasons = events.items.filter((e) => e.involvedObject.name === "fork").map((e) => e.reason);
  expect(reasons).toEqual(expect.arrayContaining(["PoolPodTaken", "Restored"]));
  expect(reasons).not.toContain("PodCreated");

  // Paused (a Snapshot of the pool pod it took) and resumed, the fork gets a pod of its own, with
  // the pool pod's hostname kept.
  const hostname = await run(fork, "hostname");
  expect(hostname.trim()).toBe(pod.metadata?.name);
  await sandboxes.patch("fork", { spec: { state: "Paused", pauseMode: "Filesystem" } });
  await phaseIs("fork", "Paused");
  await sandboxes.patch("fork", { spec: { state: "Running" } });
  const resumed = await ready("fork");
  expect(resumed.status?.podName).toBe("fork");
  expect(await run(resumed, "hostname; cat /home/user/w/note.txt")).toBe(
    `${hostname}from-source\n`,
  );
}, 300_000);

test("bad input and faults: a missing or corrupted Snapshot is refused, a Snapshot of no sandbox fails, the agent down mid-pause loses nothing", async () => {
  // restoreFrom a Snapshot that does not exist: Failed, no pod.
  await sandboxes.create("ghost", { restoreFrom: "nope" });
  const ghost = await phaseIs("ghost", "Failed");
  expect(conditionOf(ghost, "Ready")).toMatchObject({ reason: "SnapshotNotFound" });
  await expect(core.readNamespacedPod({ name: "ghost", namespace: ns.name })).rejects.toMatchObject(
    { code: 404 },
  );

  // A Snapshot of a sandbox that does not exist: Failed with the reason.
  await snapshots.create("orphan", { sandbox: "nobody" });
  const orphan = await snapshotPhase("orphan", "Failed");
  expect(conditionOf(orphan as unknown as Sandbox, "Ready")).toMatchObject({
    reason: "SandboxNotFound",
  });

  // The agent down while a pause captures: the sandbox stays (frozen) with a condition, and
  // the pause completes once the agent is back.
  await sandboxes.create("steady", { template: { image: IMAGES.base } });
  const steady = await ready("steady");
  await run(steady, "echo precious > /home/user/precious.txt");
  const { port, token } = agent;
  await agent.stop();
  await sandboxes.patch("steady", { spec: { state: "Paused", pauseMode: "Filesystem" } });
  const stuck = await waitFor("the capture failing", async () => {
    const list = await snapshots.list();
    const s = list.find((x) => x.metadata.labels?.["soulbox.dev/pause-of"] === "steady");
    return conditionOf(s as unknown as Sandbox, "Ready")?.reason === "CaptureFailed"
      ? s
      : undefined;
  });
  expect(stuck.status?.phase).toBe("InProgress");
  const pausing = await sandboxes.get("steady");
  expect(pausing.status?.phase).toBe("Pausing");
  expect(conditionOf(pausing, "Paused")?.reason).toBe("Snapshotting");
  expect(
    (await core.readNamespacedPod({ name: "steady", namespace: ns.name })).metadata
      ?.deletionTimestamp,
  ).toBeUndefined();
  await startAgent(port, token);
  await phaseIs("steady", "Paused", 180_000);
  await sandboxes.patch("steady", { spec: { state: "Running" } });
  expect(await run(await ready("steady"), "cat /home/user/precious.txt")).toBe("precious\n");

  // A corrupted Snapshot (its stored bytes changed) is refused on restore, with a condition. The
  // capture kept a copy in this node's cache (a restore here would read that, intact): it is
  // dropped, as on any other node, so the restore reads the corrupted store.
  await snapshots.create("to-corrupt", { sandbox: "steady" });
  const good = await snapshotPhase("to-corrupt", "Ready");
  const sha = good.status?.parts?.[0]?.sha256 ?? "";
  const copy = join(base, "cache", "sha256", sha.slice(0, 2), sha);
  await waitFor("the node's copy of the layer", () =>
    access(copy).then(
      () => true,
      () => undefined,
    ),
  );
  await corrupt(good);
  await rm(join(base, "cache", "sha256"), { recursive: true, force: true });
  await sandboxes.create("victim", { restoreFrom: "to-corrupt" });
  const victim = await waitFor("the restore refused", async () => {
    const sb = await sandboxes.get("victim");
    return conditionOf(sb, "Ready")?.reason === "RestoreFailed" ? sb : undefined;
  });
  expect(conditionOf(victim, "Ready")?.message).toMatch(/sha256/);
  expect(victim.status?.phase).toBe("Resuming");
});

/** Flips a byte in the middle of the Snapshot's stored blob (file store: manifest → .blobs/). */
async function corrupt(snap: Snapshot): Promise<void> {
  const key = snap.status?.parts?.[0]?.key ?? "";
  const manifest = await readFile(join(storeDir, key), "utf8").catch(() => "");
  const blobs = join(storeDir, ".blobs");
  const names = await readdir(blobs);
  const blob = names.find((n) => manifest.includes(n)) ?? names[0] ?? "";
  const bytes = await readFile(join(blobs, blob));
  const at = bytes.length >> 1;
  bytes.writeUInt8((bytes.readUInt8(at) ^ 0xff) & 0xff, at);
  await writeFile(join(blobs, blob), bytes);
}
