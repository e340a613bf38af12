/**
 * SandboxPools against an in-memory world (no cluster): the pool keeps its target of untaken
 * pods, a Sandbox takes a ready one and is Ready only once envd holds its identity, and the
 * races and faults of taking: a pod taken by another first, an empty pool, a pod that dies,
 * an envd that restarted, a missing env Secret. A fork of a Filesystem Snapshot takes a pool pod
 * that runs its template, and its files go back before envd gets the identity.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type {
  Sandbox,
  SandboxPool,
  SandboxPoolSpec,
  SandboxSpec,
  SandboxTemplate,
} from "../../../api/gen/crd-types.js";
import { RESTORE_FROM_ANNOTATION, type RestorePlan } from "../../../api/snapshot.js";
import { templateFromConfigMap } from "../../../api/template.js";
import { Annotation, Label } from "../../../api/labels.js";
import { poolTokenSecretName, tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import { apiError, createFakeWorld, type FakeWorld } from "../../test-support/fake-world.js";
import { createSandboxReconciler } from "./reconcile-sandbox.js";
import {
  RESTORE_HOLD_MS,
  createPoolReconciler,
  forksRestoring,
  poolPodsToCreate,
} from "./reconcile-pool.js";
import { poolFor, restoresIntoPoolPod } from "./pool-claim.js";
import { poolTarget } from "../pool/desired-pool.js";

const T0 = Date.parse("2026-03-01T10:00:10Z");

function setup(poolSpec: Partial<SandboxPoolSpec> = {}) {
  const world = createFakeWorld();
  let tick = 0;
  const now = () => new Date(T0 + 1000 * tick++);
  const pool = createPoolReconciler({ ...world.deps, now });
  const sandbox = createSandboxReconciler({ ...world.deps, agent: world.agent, now });
  world.add("ConfigMap", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "python" },
    data: { template: "image: python:3\n" },
  } as never);
  world.addPool("py", { templateRef: "python", minReady: 2, ...poolSpec });
  return {
    world,
    runPool: () => pool(`${world.ns}/py`),
    run: (name: string) => sandbox(`${world.ns}/${name}`),
  };
}

const poolPods = (w: FakeWorld) =>
  w.deps.caches.pods.list(w.ns).filter((p) => p.metadata?.labels?.[Label.pool] === "py");
const untaken = (w: FakeWorld) =>
  poolPods(w).filter((p) => p.metadata?.labels?.[Label.component] === "pool-pod");
const sb = (w: FakeWorld, name: string) => w.get<Sandbox>("Sandbox", name);
const ready = (w: FakeWorld, name: string) =>
  sb(w, name)?.status?.conditions?.find((c) => c.type === "Ready");

/** Brings the pool to its target and makes every pod Ready, each with its own IP. */
async function warm(world: FakeWorld, runPool: () => Promise<unknown>) {
  await runPool();
  untaken(world).forEach((p, i) =>
    world.podReady(p.metadata?.name ?? "", undefined, `10.0.0.${i + 10}`),
  );
  await runPool();
}

describe("poolTarget: minReady, raised by the last window's claims up to maxReady", () => {
  test.each<[string, Partial<SandboxPoolSpec>, number, number]>([
    ["no demand", { minReady: 2 }, 0, 2],
    ["demand without maxReady", { minReady: 2 }, 9, 2],
    ["demand below maxReady", { minReady: 2, maxReady: 10 }, 5, 5],
    ["demand above maxReady", { minReady: 2, maxReady: 10 }, 50, 10],
    ["demand below minReady", { minReady: 3, maxReady: 10 }, 1, 3],
    ["an empty pool", { minReady: 0 }, 0, 0],
  ])("%s", (_name, spec, claims, want) => {
    expect(poolTarget({ templateRef: "t", ...spec }, claims)).toBe(want);
  });
});

describe("poolPodsToCreate: up to the target, at most 4 starting at once", () => {
  test.each<[string, number, number, number, number]>([
    ["an empty pool of 2", 2, 0, 0, 2],
    ["an empty pool of 30", 30, 0, 0, 4],
    ["4 already starting", 30, 10, 4, 0],
    ["1 starting", 30, 10, 1, 3],
    ["at the target", 2, 2, 0, 0],
    ["above the target", 2, 5, 3, 0],
  ])("%s", (_name, target, have, starting, want) => {
    expect(poolPodsToCreate(target, have, starting)).toBe(want);
  });
});

describe("forksRestoring: the pool's pods a fork is restoring into hold its refill", () => {
  const t = new Date(T0);
  const takenAgo = (ms: number) => new Date(T0 - ms).toISOString();
  const pod = (
    labels: Record<string, string>,
    annotations: Record<string, string>,
    deleting = false,
  ): V1Pod => ({
    metadata: {
      name: "p",
      labels,
      annotations,
      ...(deleting ? { deletionTimestamp: new Date(T0) } : {}),
    },
  });
  const taken = { [Label.pool]: "py", [Label.component]: "sandbox" };
  const restoring = { [RESTORE_FROM_ANNOTATION]: "snap", [Annotation.claimedAt]: takenAgo(2000) };
  test.each<[string, V1Pod, boolean]>([
    ["a fork restoring into a pod of the pool", pod(taken, restoring), true],
    [
      "its files back (envd has the identity)",
      pod(taken, { ...restoring, [Annotation.identity]: "uid/0" }),
      false,
    ],
    [
      "a plain take (nothing to restore)",
      pod(taken, { [Annotation.claimedAt]: takenAgo(0) }),
      false,
    ],
    ["a pod of another pool", pod({ ...taken, [Label.pool]: "node" }, restoring), false],
    [
      "an untaken pod of the pool",
      pod({ ...taken, [Label.component]: "pool-pod" }, restoring),
      false,
    ],
    ["a pod being deleted", pod(taken, restoring, true), false],
    [
      `taken ${RESTORE_HOLD_MS / 1000} s ago or more (a failing restore)`,
      pod(taken, { ...restoring, [Annotation.claimedAt]: takenAgo(RESTORE_HOLD_MS) }),
      false,
    ],
    [
      "no take time",
      pod(taken, { [RESTORE_FROM_ANNOTATION]: "snap", [Annotation.claimedAt]: "later" }),
      false,
    ],
  ])("%s", (_name, p, want) => {
    expect(forksRestoring("py", [p], t)).toHaveLength(want ? 1 : 0);
  });
});

describe("poolFor: which pool a Sandbox takes from", () => {
  const pool = (name: string, templateRef: string) =>
    ({ metadata: { name }, spec: { templateRef } }) as SandboxPool;
  const pools = [pool("b", "python"), pool("a", "python"), pool("c", "node")];
  test.each<[string, SandboxSpec, string | undefined]>([
    ["the first pool of its template", { templateRef: "python" }, "a"],
    ["the named pool", { templateRef: "python", poolRef: "b" }, "b"],
    ["a named pool of another template: none", { templateRef: "python", poolRef: "c" }, undefined],
    ["a missing named pool: none", { templateRef: "python", poolRef: "x" }, undefined],
    ["coldStart: none", { templateRef: "python", coldStart: true }, undefined],
    ["an inline template: none", { template: { image: "python:3" } }, undefined],
    ["a GPU: none", { templateRef: "python", gpu: { count: 1 } }, undefined],
    [
      "volume mounts: none",
      { templateRef: "python", volumeMounts: [{ volume: "v", path: "/data" }] },
      undefined,
    ],
    ["no pool of its template: none", { templateRef: "ruby" }, undefined],
  ])("%s", (_name, spec, want) => {
    expect(poolFor({ spec } as Sandbox, pools)?.metadata.name).toBe(want);
  });
});

describe("the pool", () => {
  test("creates its token Secret, its NetworkPolicy and minReady pods, and no more while they start", async () => {
    const { world, runPool } = setup();
    await runPool();
    expect(untaken(world)).toHaveLength(2);
    expect(tokenFromSecret(world.get("Secret", poolTokenSecretName("py")))).toBeTruthy();
    expect(world.get("NetworkPolicy", "py.pool")).toBeDefined();
    const pool = world.get<SandboxPool>("SandboxPool", "py");
    expect(pool?.status).toMatchObject({ ready: 0, starting: 2, target: 2, claimed: 0 });
    await runPool();
    await runPool();
    expect(untaken(world)).toHaveLength(2);
  });

  test("a settled pool costs no write", async () => {
    const { world, runPool } = setup();
    await warm(world, runPool);
    expect(world.get<SandboxPool>("SandboxPool", "py")?.status).toMatchObject({ ready: 2 });
    const before = world.writes.length;
    for (let i = 0; i < 10; i++) await runPool();
    expect(world.writes.slice(before)).toEqual([]);
  });

  test("a finished pod is deleted and replaced", async () => {
    const { world, runPool } = setup();
    await warm(world, runPool);
    const dead = untaken(world)[0]?.metadata?.name ?? "";
    world.edit<V1Pod>("Pod", dead, (p) => {
      p.status = { phase: "Failed" };
    });
    await runPool();
    expect(world.get("Pod", dead)).toBeUndefined();
    expect(untaken(world)).toHaveLength(2);
  });

  test("a changed template replaces the untaken pods", async () => {
    const { world, runPool } = setup();
    await warm(world, runPool);
    const old = untaken(world).map((p) => p.metadata?.name);
    world.edit("ConfigMap", "python", (cm: { data: Record<string, string> }) => {
      cm.data.template = "image: python:3.13\n";
    });
    await runPool();
    const now = untaken(world);
    expect(now).toHaveLength(2);
    expect(now.map((p) => p.metadata?.name).some((n) => old.includes(n))).toBe(false);
    expect(now.every((p) => p.spec?.containers[0]?.image === "python:3.13")).toBe(true);
  });

  test("a missing template makes no pod and says why it waits", async () => {
    const { world, runPool } = setup({ templateRef: "nope" });
    await expect(runPool()).resolves.toEqual({ requeueAfterMs: 30_000 });
    expect(untaken(world)).toHaveLength(0);
  });

  test("a lower target deletes the surplus, starting pods first", async () => {
    const { world, runPool } = setup({ minReady: 3 });
    await runPool();
    world.podReady(untaken(world)[0]?.metadata?.name ?? "");
    world.edit<SandboxPool>("SandboxPool", "py", (p) => {
      p.spec.minReady = 1;
    });
    await runPool();
    const left = untaken(world);
    expect(left).toHaveLength(1);
    expect(left[0]?.status?.phase).toBe("Running");
  });
});

describe("a Sandbox takes a ready pod", () => {
  test("the pod becomes the Sandbox's, envd gets its token, then it is Ready", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    await run("sb1");
    const taken = world.deps.caches.pods
      .list(world.ns)
      .find((p) => p.metadata?.ownerReferences?.[0]?.name === "sb1");
    expect(taken?.metadata?.labels).toMatchObject({
      [Label.sandbox]: "sb1",
      [Label.component]: "pod",
      [Label.pool]: "py",
    });
    expect(world.get("Pod", "sb1")).toBeUndefined(); // no cold pod
    const token = tokenFromSecret(world.get("Secret", tokenSecretName("sb1")));
    const poolToken = tokenFromSecret(world.get("Secret", poolTokenSecretName("py")));
    expect(world.inits).toEqual([
      {
        endpoint: expect.stringContaining("10.0.0.") as string,
        token: poolToken,
        accessToken: token,
      },
    ]);
    // One reconcile took the pod and gave envd the identity: the warm start is one step.
    expect(
      world.get<V1Pod>("Pod", taken?.metadata?.name ?? "")?.metadata?.annotations,
    ).toMatchObject({ [Annotation.identity]: expect.stringMatching(/\/0$/) as string });
    expect(ready(world, "sb1")?.status).toBe("True");
    expect(sb(world, "sb1")?.status).toMatchObject({ phase: "Running", pool: "py" });
    expect(sb(world, "sb1")?.status?.podName).toBe(taken?.metadata?.name);
    // The pool makes a new pod for the one taken.
    await runPool();
    expect(untaken(world)).toHaveLength(2);
    expect(world.get<SandboxPool>("SandboxPool", "py")?.status).toMatchObject({ claimed: 1 });
  });

  test("not Ready while envd does not hold its identity", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    world.failEnvd(new Error("connection refused"));
    await expect(run("sb1")).rejects.toThrow(/connection refused/);
    expect(ready(world, "sb1")).toMatchObject({ status: "False" });
    expect(sb(world, "sb1")?.status?.phase).not.toBe("Running");
    world.heal();
    await run("sb1");
    expect(ready(world, "sb1")?.status).toBe("True");
  });

  test("two Sandboxes and one ready pod: one takes it, the other starts cold", async () => {
    const { world, runPool, run } = setup({ minReady: 1 });
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    world.addSandbox("sb2", { templateRef: "python" });
    await run("sb1");
    await run("sb2");
    expect(world.get("Pod", "sb1")).toBeUndefined();
    expect(world.get("Pod", "sb2")).toBeDefined(); // the cold pod
    expect(world.events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(["PoolPodTaken", "PoolEmpty"]),
    );
  });

  test("a pod taken by another between the read and the patch (409) is skipped", async () => {
    const { world, runPool, run } = setup({ minReady: 2 });
    await warm(world, runPool);
    const [first, second] = untaken(world).map((p) => p.metadata?.name ?? "");
    world.addSandbox("sb1", { templateRef: "python" });
    // Another writer changes the oldest pod just before the take: its resourceVersion moves on.
    const patch = world.deps.writer.patchMetadataAt;
    world.deps.writer.patchMetadataAt = async (ref, rv, meta) => {
      if (ref.name === first) world.edit("Pod", first ?? "", () => undefined);
      return patch(ref, rv, meta);
    };
    await run("sb1");
    const owner = (n: string) => world.get<V1Pod>("Pod", n)?.metadata?.ownerReferences?.[0]?.name;
    expect([owner(first ?? ""), owner(second ?? "")]).toEqual(["py", "sb1"]);
  });

  test("an empty pool falls back to a cold start and counts a miss", async () => {
    const { world, run } = setup({ minReady: 0 });
    world.addSandbox("sb1", { templateRef: "python" });
    await run("sb1");
    expect(world.get("Pod", "sb1")).toBeDefined();
    const misses = await world.deps.metrics.poolClaims.get();
    expect(misses.values.find((v) => v.labels.result === "miss")?.value).toBe(1);
  });

  test("coldStart never takes a pool pod", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python", coldStart: true });
    await run("sb1");
    expect(world.get("Pod", "sb1")).toBeDefined();
    expect(untaken(world)).toHaveLength(2);
  });

  test("a taken pod that dies is deleted, and the Sandbox takes another", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    await run("sb1");
    await run("sb1");
    const first = sb(world, "sb1")?.status?.podName ?? "";
    world.edit<V1Pod>("Pod", first, (p) => {
      p.status = { ...p.status, phase: "Failed" };
    });
    await run("sb1");
    expect(world.get("Pod", first)).toBeUndefined();
    await run("sb1");
    const second = sb(world, "sb1")?.status?.podName ?? "";
    expect(second).not.toBe(first);
    expect(world.get<V1Pod>("Pod", second)?.metadata?.ownerReferences?.[0]?.name).toBe("sb1");
  });

  test("a restarted container gets the identity again (envd came back with the pool's token)", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    await run("sb1");
    await run("sb1");
    const pod = sb(world, "sb1")?.status?.podName ?? "";
    const ip = world.get<V1Pod>("Pod", pod)?.status?.podIP ?? "";
    const poolToken = tokenFromSecret(world.get("Secret", poolTokenSecretName("py")));
    world.envdState.set(`http://${ip}:49983`, { token: poolToken ?? "", envVars: {} });
    world.edit<V1Pod>("Pod", pod, (p) => {
      p.status = {
        ...p.status,
        initContainerStatuses: [{ name: "envd", restartCount: 1 } as never],
      };
    });
    await run("sb1");
    expect(world.inits).toHaveLength(2);
    expect(world.envdState.get(`http://${ip}:49983`)?.token).toBe(
      tokenFromSecret(world.get("Secret", tokenSecretName("sb1"))),
    );
    expect(world.get<V1Pod>("Pod", pod)?.metadata?.annotations?.[Annotation.identity]).toMatch(
      /\/1$/,
    );
  });

  test("envd already holding the Sandbox's token (an earlier try) is given it again with that token", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python" });
    const annotate = world.deps.writer.patchMetadataAt;
    let failOnce = true;
    world.deps.writer.patchMetadataAt = async (ref, rv, meta) => {
      const m = meta as { annotations?: Record<string, string> };
      if (failOnce && m.annotations?.[Annotation.identity]) {
        failOnce = false;
        throw apiError(500, "etcd timeout");
      }
      return annotate(ref, rv, meta);
    };
    await expect(run("sb1")).rejects.toThrow(/HTTP-Code: 500/);
    await run("sb1");
    const token = tokenFromSecret(world.get("Secret", tokenSecretName("sb1")));
    expect(world.inits.at(-1)).toMatchObject({ token, accessToken: token });
    expect(ready(world, "sb1")?.status).toBe("True");
  });

  test("envFrom Secrets reach envd as env vars; a missing one keeps the Sandbox from Ready", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python", envFrom: [{ secretRef: { name: "env" } }] });
    await expect(run("sb1")).rejects.toThrow(/envFrom Secret .*env does not exist/);
    expect(ready(world, "sb1")?.status).toBe("False");
    world.add("Secret", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "env" },
      data: { API_KEY: Buffer.from("s3cret").toString("base64") },
    } as never);
    await run("sb1");
    const pod = world.get<V1Pod>("Pod", sb(world, "sb1")?.status?.podName ?? "");
    expect(world.envdState.get(`http://${pod?.status?.podIP}:49983`)?.envVars).toEqual({
      API_KEY: "s3cret",
    });
    expect(ready(world, "sb1")?.status).toBe("True");
  });

  test("the timeout counts from the take, not from the pod's start", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    world.addSandbox("sb1", { templateRef: "python", timeoutSeconds: 60 });
    await run("sb1");
    await run("sb1");
    const status = sb(world, "sb1")?.status;
    const pod = world.get<V1Pod>("Pod", status?.podName ?? "");
    expect(status?.startedAt).toBe(
      pod?.metadata?.annotations?.[Annotation.claimedAt]?.replace(/\.\d+Z$/, "Z"),
    );
  });
});

describe("a fork of a Filesystem Snapshot restores into a pool pod that runs its template", () => {
  const SHA = "a".repeat(64);
  /** A Ready Filesystem Snapshot that recorded `template` (what a capture writes). */
  function addSnapshot(world: FakeWorld, name: string, template: SandboxTemplate) {
    world.add("Snapshot", {
      apiVersion: "soulbox.dev/v1alpha1",
      kind: "Snapshot",
      metadata: { name, uid: `uid-${name}` },
      spec: { sandboxRef: "source", mode: "Filesystem" },
      status: {
        phase: "Ready",
        template,
        image: template.image,
        parts: [{ name: "filesystem", key: `snapshots/${name}.tar.zst`, sha256: SHA, size: 10 }],
      },
    } as never);
  }
  const python = (world: FakeWorld) =>
    templateFromConfigMap("python", world.ns, world.get("ConfigMap", "python"));
  const forkPod = (w: FakeWorld) =>
    poolPods(w).find((p) => p.metadata?.labels?.[Label.sandbox] === "fork");

  test("takes the pod, puts the files back, and only then gives envd the identity", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    addSnapshot(world, "snap", python(world));
    world.addSandbox("fork", { restoreFrom: "snap" });
    // The agent fails first: the pod is the fork's, but envd gets nothing yet.
    world.failAgent(new Error("connect ECONNREFUSED 192.0.2.10:9479"));
    await expect(run("fork")).rejects.toThrow(/ECONNREFUSED/);
    const pod = forkPod(world);
    expect(pod?.metadata?.annotations?.[RESTORE_FROM_ANNOTATION]).toBe("snap");
    expect(world.inits).toEqual([]);
    expect(ready(world, "fork")).toMatchObject({ status: "False", reason: "RestoreFailed" });
    // The pool waits with its refill while the fork's files go back (and says when to look again).
    expect(await runPool()).toEqual({ requeueAfterMs: expect.any(Number) as number });
    expect(untaken(world)).toHaveLength(1);
    world.heal();
    await run("fork");
    await run("fork");
    await runPool();
    expect(untaken(world)).toHaveLength(2);
    expect(world.agentCalls.map((c) => [c.op, c.hostIP])).toEqual([
      ["restore", "192.0.2.10"],
      ["restore", "192.0.2.10"],
    ]);
    expect(world.agentCalls.at(-1)?.req).toMatchObject({
      podUID: pod?.metadata?.uid,
      containerID: `containerd://${"c".repeat(64)}`,
      key: "snapshots/snap.tar.zst",
      sha256: SHA,
    });
    expect(world.inits).toHaveLength(1);
    expect(ready(world, "fork")?.status).toBe("True");
    // No pod of its own: the restore's pod is the pool's.
    expect(world.get("Pod", "fork")).toBeUndefined();
    // Done: later reconciles ask the agent nothing more.
    await run("fork");
    expect(world.agentCalls).toHaveLength(2);
  });

  test("a Snapshot of another template starts a pod of its own, restored as any", async () => {
    const { world, runPool, run } = setup();
    await warm(world, runPool);
    addSnapshot(world, "snap", { ...python(world), image: "python:3.13" });
    world.addSandbox("fork", { restoreFrom: "snap" });
    await run("fork");
    expect(forkPod(world)).toBeUndefined();
    expect(untaken(world)).toHaveLength(2);
    const own = world.get<V1Pod>("Pod", "fork");
    expect(own?.metadata?.annotations?.[RESTORE_FROM_ANNOTATION]).toBe("snap");
  });

  describe("restoresIntoPoolPod", () => {
    const fs: RestorePlan = { kind: "filesystem", key: "k", sha256: SHA };
    const memory: RestorePlan = {
      kind: "memory",
      key: "k",
      sha256: SHA,
      node: "n",
      image: "localhost/soulbox/checkpoint/ns/s:u",
    };
    const base: SandboxTemplate = { image: "python:3" };
    test.each<
      [string, Partial<SandboxSpec>, Sandbox["status"], RestorePlan, SandboxTemplate, boolean]
    >([
      ["a fork of a Filesystem Snapshot", {}, undefined, fs, base, true],
      ["a resume (it keeps its own pod's hostname)", {}, { lastSnapshot: "s" }, fs, base, false],
      ["a Memory Snapshot", {}, undefined, memory, base, false],
      ["a template with a command", {}, undefined, fs, { ...base, command: ["sleep"] }, false],
      ["a template with args", {}, undefined, fs, { ...base, args: ["-c", "x"] }, false],
      ["coldStart", { coldStart: true }, undefined, fs, base, false],
      ["a GPU", { gpu: { count: 1 } }, undefined, fs, base, false],
    ])("%s: %s", (_name, spec, status, plan, template, want) => {
      const sandbox = { spec: { restoreFrom: "s", ...spec }, status } as Sandbox;
      expect(restoresIntoPoolPod(sandbox, plan, template)).toBe(want);
    });
  });
});
