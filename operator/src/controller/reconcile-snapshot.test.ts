/**
 * The Snapshot reconciler and the Sandbox reconciler's Filesystem and Memory pause and restore, against the
 * in-memory world (operator/test-support/fake-world.ts) with a fake node agent: the real agent
 * and node are in e2e/snapshots/filesystem.test.ts.
 */
import type * as k8s from "@kubernetes/client-node";
import type { Sandbox, Snapshot } from "../../../api/gen/crd-types.js";
import { TemplateError } from "../../../api/template.js";
import type { ObjectStore } from "../../../lib/storage/index.js";
import { createFakeWorld, type FakeWorld } from "../../test-support/fake-world.js";
import { NodeAgentCallError } from "./node-agent-client.js";
import { createSandboxReconciler } from "./reconcile-sandbox.js";
import { createSnapshotReconciler, sandboxPod, stepsNote } from "./reconcile-snapshot.js";
import { templateOf } from "./sandbox-children.js";

const NOW = new Date("2026-03-01T10:00:10Z");

function fakeStore() {
  const deleted: string[] = [];
  const store = {
    displayUrl: "s3://bucket/prefix",
    delete: async (key: string) => {
      deleted.push(key);
    },
  } as unknown as ObjectStore;
  return { store, deleted };
}

function setup(opts: { store?: boolean; agent?: boolean } = {}) {
  const world = createFakeWorld();
  const { store, deleted } = fakeStore();
  const deps = world.deps;
  const caches = deps.caches;
  const snapshots = createSnapshotReconciler({
    snapshots: caches.snapshots!,
    sandboxes: caches.sandboxes,
    pods: caches.pods,
    secrets: caches.secrets,
    writer: world.snapshotWriter,
    async templateOf(sb) {
      const t = await templateOf({
        sb,
        namespace: world.ns,
        deps: { reader: deps.reader, caches },
      });
      if (t instanceof TemplateError) throw t;
      return t;
    },
    envd: deps.envd,
    ...(opts.agent === false ? {} : { agent: world.agent }),
    ...(opts.store === false ? {} : { store }),
    events: deps.events,
    log: deps.log,
    now: () => NOW,
  });
  const sandboxes = createSandboxReconciler({ ...deps, agent: world.agent, now: () => NOW });
  const key = (name: string) => `${world.ns}/${name}`;
  return { world, deleted, snapshots, sandboxes, key };
}

/** A sandbox whose pod runs and is Ready (token Secret and all). */
async function runningSandbox(t: ReturnType<typeof setup>, name = "sb") {
  t.world.addSandbox(name, { template: { image: "base:1", command: ["serve"] } });
  await t.sandboxes(t.key(name));
  t.world.podReady(name);
  await t.sandboxes(t.key(name));
}

const snap = (w: FakeWorld, name: string) => w.get<Snapshot>("Snapshot", name);
const sandbox = (w: FakeWorld, name: string) => w.get<Sandbox>("Sandbox", name);
const ready = (s: Snapshot | Sandbox | undefined) =>
  s?.status?.conditions?.find((c) => c.type === "Ready");

/** Runs a reconcile and returns its error, if it threw one. */
async function attempt(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

test("a Snapshot gets its finalizer first, then is captured frozen and thawed, and settles", async () => {
  const t = await (async () => {
    const t = setup();
    await runningSandbox(t);
    return t;
  })();
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  expect(snap(t.world, "s1")?.metadata.finalizers).toEqual(["soulbox.dev/snapshot-storage"]);
  expect(t.world.agentCalls).toEqual([]); // no byte before the finalizer

  const freezesBefore = t.world.envdCalls.length;
  await t.snapshots(t.key("s1"));
  const s = snap(t.world, "s1");
  expect(t.world.envdCalls.slice(freezesBefore)).toEqual([true, false]);
  expect(t.world.agentCalls).toEqual([
    {
      op: "capture",
      hostIP: "192.0.2.10",
      req: expect.objectContaining({ containerID: `containerd://${"c".repeat(64)}` }),
    },
  ]);
  const keyUsed = (t.world.agentCalls[0]?.req as { key: string }).key;
  expect(keyUsed).toMatch(/^snapshots\/team-a\/s1-uid-\d+\/filesystem\.tar\.zst$/);
  expect(s?.status).toMatchObject({
    phase: "Ready",
    size: 1234,
    sha256: "a".repeat(64),
    location: `s3://bucket/prefix/${keyUsed}`,
    parts: [{ name: "filesystem", key: keyUsed, size: 1234, sha256: "a".repeat(64) }],
    template: { image: "base:1", command: ["serve"] },
    image: "base:1",
    startTime: "2026-03-01T10:00:10Z",
    completionTime: "2026-03-01T10:00:10Z",
  });
  expect(ready(s)).toMatchObject({ status: "True", reason: "Stored" });

  const writes = t.world.writes.length;
  for (let i = 0; i < 5; i++) await t.snapshots(t.key("s1"));
  expect(t.world.writes.length).toBe(writes);
  expect(t.world.agentCalls).toHaveLength(1);
});

test.each<[string, Parameters<typeof setup>[0], () => Snapshot["spec"], string]>([
  ["a Sandbox that does not exist", {}, () => ({ sandbox: "nobody" }), "SandboxNotFound"],
  ["no object storage", { store: false }, () => ({ sandbox: "sb" }), "StorageNotConfigured"],
  ["no node agent", { agent: false }, () => ({ sandbox: "sb" }), "StorageNotConfigured"],
])(
  "%s: the Snapshot is Failed with the reason, and nothing is captured",
  async (_, opts, spec, reason) => {
    const t = setup(opts);
    await runningSandbox(t);
    t.world.addSnapshot("s1", spec());
    await t.snapshots(t.key("s1"));
    await t.snapshots(t.key("s1"));
    expect(snap(t.world, "s1")?.status?.phase).toBe("Failed");
    expect(ready(snap(t.world, "s1"))).toMatchObject({ status: "False", reason });
    expect(t.world.agentCalls).toEqual([]);
  },
);

test("an agent that does not answer: InProgress with the reason, thawed, retried until it works", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  t.world.failAgent(
    new NodeAgentCallError("the node agent at http://192.0.2.10:9479 did not answer"),
  );
  const err = await attempt(() => t.snapshots(t.key("s1")));
  expect(err).toBeInstanceOf(NodeAgentCallError);
  expect(snap(t.world, "s1")?.status?.phase).toBe("InProgress");
  expect(ready(snap(t.world, "s1"))).toMatchObject({
    reason: "CaptureFailed",
    message: expect.stringMatching(/did not answer.*retrying/),
  });
  expect(t.world.envdCalls.at(-1)).toBe(false); // the sandbox runs on meanwhile

  t.world.heal();
  await t.snapshots(t.key("s1"));
  expect(snap(t.world, "s1")?.status?.phase).toBe("Ready");
});

test("a permanent agent error (bad input) makes the Snapshot Failed, not retried", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  t.world.failAgent(
    new NodeAgentCallError("the node agent answered 400: not an overlay", "InvalidArgument"),
  );
  expect(await attempt(() => t.snapshots(t.key("s1")))).toBeUndefined();
  expect(snap(t.world, "s1")?.status?.phase).toBe("Failed");
  expect(ready(snap(t.world, "s1"))?.message).toMatch(/not an overlay/);
});

test("a deleted Snapshot deletes its stored objects, then lets go of its finalizer", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  await t.snapshots(t.key("s1"));
  const key = snap(t.world, "s1")?.status?.parts?.[0]?.key;
  t.world.edit<Snapshot>("Snapshot", "s1", (s) => {
    s.metadata.deletionTimestamp = "2026-03-01T10:01:00Z" as unknown as Date & string;
  });
  await t.snapshots(t.key("s1"));
  // Its Memory key too: a capture that committed after the deletion leaves nothing behind.
  expect(t.deleted).toEqual([key, key?.replace("filesystem.tar.zst", "memory.tar")]);
  expect(snap(t.world, "s1")).toBeUndefined();
});

test.each([
  ["answers", undefined, []],
  [
    "does not answer",
    new NodeAgentCallError("the node agent at 192.0.2.10 did not answer: ECONNREFUSED"),
    ["CheckpointImageKept"],
  ],
])(
  "a deleted Memory Snapshot asks its node's agent to remove the checkpoint image; the finalizer goes whether the agent %s",
  async (_, failure, warnings) => {
    const t = setup();
    await runningSandbox(t);
    t.world.addSnapshot("m1", { sandbox: "sb", mode: "Memory" });
    await t.snapshots(t.key("m1"));
    await t.snapshots(t.key("m1"));
    const image = snap(t.world, "m1")?.status?.checkpointImage;
    expect(image).toMatch(/^localhost\/soulbox\/checkpoint\//);
    if (failure) t.world.failAgent(failure);
    t.world.edit<Snapshot>("Snapshot", "m1", (s) => {
      s.metadata.deletionTimestamp = "2026-03-01T10:01:00Z" as unknown as Date & string;
    });
    await t.snapshots(t.key("m1"));
    expect(t.world.agentCalls.at(-1)).toEqual({
      op: "forgetImage",
      hostIP: "192.0.2.10",
      req: { image },
    });
    expect(snap(t.world, "m1")).toBeUndefined();
    expect(t.deleted.some((k) => k.endsWith("/memory.tar"))).toBe(true);
    expect(t.world.events.filter((e) => e.type === "Warning").map((e) => e.reason)).toEqual(
      warnings,
    );
  },
);

test("a deleted Filesystem Snapshot asks no agent to remove an image", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  await t.snapshots(t.key("s1"));
  t.world.edit<Snapshot>("Snapshot", "s1", (s) => {
    s.metadata.deletionTimestamp = "2026-03-01T10:01:00Z" as unknown as Date & string;
  });
  await t.snapshots(t.key("s1"));
  expect(t.world.agentCalls.map((c) => c.op)).toEqual(["capture"]);
  expect(snap(t.world, "s1")).toBeUndefined();
});

test("a pausing sandbox's pod that is being deleted is not asked to freeze again", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Paused";
    s.spec.pauseMode = "Filesystem";
  });
  await t.sandboxes(t.key("sb")); // freezes, creates the pause Snapshot
  const calls = t.world.envdCalls.length;
  t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
    p.metadata = { ...p.metadata, deletionTimestamp: new Date() };
  });
  // Its envd is going: a call would fail and back the Sandbox's reconciles off.
  t.world.failEnvd(new Error("envd at 10.244.0.7:49983 did not answer POST /freeze"));
  await t.sandboxes(t.key("sb"));
  expect(t.world.envdCalls.length).toBe(calls);
});

test("a Filesystem pause: frozen, captured, lastSnapshot recorded before the pod goes; resume restores into a waiting pod", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Paused";
    s.spec.pauseMode = "Filesystem";
  });
  const pod = t.world.get<k8s.V1Pod>("Pod", "sb");
  const pauseName = `sb-${(pod?.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;

  await t.sandboxes(t.key("sb")); // freezes, creates the pause Snapshot
  expect(sandbox(t.world, "sb")?.status?.phase).toBe("Pausing");
  const pause = snap(t.world, pauseName);
  expect(pause?.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Sandbox", name: "sb" });
  expect(pause?.metadata.labels).toMatchObject({ "soulbox.dev/pause-of": "sb" });

  await t.snapshots(t.key(pauseName)); // finalizer
  await t.snapshots(t.key(pauseName)); // capture; the sandbox stays frozen
  expect(t.world.envdCalls.at(-1)).toBe(true);
  expect(snap(t.world, pauseName)?.status?.phase).toBe("Ready");

  await t.sandboxes(t.key("sb"));
  expect(sandbox(t.world, "sb")?.status?.lastSnapshot).toBe(pauseName);
  expect(t.world.get("Pod", "sb")).toBeDefined(); // recorded first, deleted on the next pass
  await t.sandboxes(t.key("sb"));
  expect(t.world.get("Pod", "sb")).toBeUndefined();
  await t.sandboxes(t.key("sb"));
  const paused = sandbox(t.world, "sb");
  expect(paused?.status?.phase).toBe("Paused");
  expect(paused?.status?.conditions?.find((c) => c.type === "Paused")).toMatchObject({
    status: "True",
    reason: "SnapshotStored",
  });
  const writes = t.world.writes.length;
  for (let i = 0; i < 5; i++) await t.sandboxes(t.key("sb"));
  expect(t.world.writes.length).toBe(writes); // paused: no pod made, nothing written

  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Running";
  });
  await t.sandboxes(t.key("sb"));
  const restored = t.world.get<k8s.V1Pod>("Pod", "sb");
  expect(restored?.metadata?.annotations?.["soulbox.dev/restore-from"]).toBe(pauseName);
  const sandboxContainer = restored?.spec?.containers.find((c) => c.name === "sandbox");
  expect(sandboxContainer?.command).toEqual(
    expect.arrayContaining(["--wait-for", "/soulbox/run/restored"]),
  );
  // The container runs (its executor waits); not Ready yet: the operator asks for the restore.
  t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
    p.status = {
      phase: "Running",
      podIP: "10.244.0.8",
      hostIP: "192.0.2.10",
      containerStatuses: [
        {
          name: "sandbox",
          image: "base:1",
          imageID: "base:1",
          ready: false,
          restartCount: 0,
          containerID: `containerd://${"d".repeat(64)}`,
          state: { running: {} },
        },
      ],
      conditions: [{ type: "PodScheduled", status: "True" }],
    };
    p.spec = { ...p.spec, containers: p.spec?.containers ?? [], nodeName: "node-1" };
  });
  await t.sandboxes(t.key("sb"));
  expect(t.world.agentCalls.at(-1)).toMatchObject({
    op: "restore",
    req: {
      containerID: `containerd://${"d".repeat(64)}`,
      podUID: restored?.metadata?.uid,
      volume: "soulbox",
      key: snap(t.world, pauseName)?.status?.parts?.[0]?.key,
      sha256: "a".repeat(64),
    },
  });
  expect(ready(sandbox(t.world, "sb"))).toMatchObject({ status: "False", reason: "Restoring" });
  expect(sandbox(t.world, "sb")?.status?.phase).toBe("Resuming");
});

test.each([
  ["a pool's pod (its hostname is its own name)", "py-p-x7k2q", "py-p-x7k2q"],
  ["its own pod (named after the Sandbox)", undefined, undefined],
])(
  "a resumed sandbox keeps the hostname of the pod it was paused from: %s",
  async (_, hostname, want) => {
    const t = setup();
    await runningSandbox(t);
    if (hostname)
      t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
        p.spec = { ...p.spec, containers: p.spec?.containers ?? [], hostname };
      });
    t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
      s.spec.state = "Paused";
      s.spec.pauseMode = "Filesystem";
    });
    const pod = t.world.get<k8s.V1Pod>("Pod", "sb");
    const pauseName = `sb-${(pod?.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
    await t.sandboxes(t.key("sb"));
    expect(snap(t.world, pauseName)?.metadata.annotations?.["soulbox.dev/hostname"]).toBe(
      hostname ?? "sb",
    );
    await t.snapshots(t.key(pauseName));
    await t.snapshots(t.key(pauseName));
    for (let i = 0; i < 3; i++) await t.sandboxes(t.key("sb"));
    expect(sandbox(t.world, "sb")?.status?.phase).toBe("Paused");
    t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
      s.spec.state = "Running";
    });
    await t.sandboxes(t.key("sb"));
    const resumed = t.world.get<k8s.V1Pod>("Pod", "sb");
    expect(resumed?.metadata?.annotations?.["soulbox.dev/restore-from"]).toBe(pauseName);
    expect(resumed?.spec?.hostname).toBe(want);
    // The recorded spec hash is the spec's own: the pod is up to date, not "changed".
    await t.sandboxes(t.key("sb"));
    expect(
      sandbox(t.world, "sb")?.status?.conditions?.find((c) => c.type === "PodUpToDate"),
    ).toMatchObject({ status: "True" });
  },
);

test("a pause whose Snapshot failed thaws the sandbox and says why; resuming clears it for a retry", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Paused";
    s.spec.pauseMode = "Filesystem";
  });
  await t.sandboxes(t.key("sb"));
  const name = t.world.writes.find((w) => w.kind === "Snapshot" && w.verb === "create")?.name ?? "";
  t.world.failAgent(new NodeAgentCallError("the node agent answered 400: bad", "InvalidArgument"));
  await t.snapshots(t.key(name));
  await t.snapshots(t.key(name));
  expect(snap(t.world, name)?.status?.phase).toBe("Failed");
  await t.sandboxes(t.key("sb"));
  const sb = sandbox(t.world, "sb");
  expect(sb?.status?.phase).toBe("Running");
  expect(sb?.status?.conditions?.find((c) => c.type === "Paused")).toMatchObject({
    status: "False",
    reason: "SnapshotFailed",
    message: expect.stringMatching(/bad.*keeps running/),
  });
  expect(t.world.envdCalls.at(-1)).toBe(false);
  expect(t.world.get("Pod", "sb")).toBeDefined();

  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Running";
  });
  await t.sandboxes(t.key("sb"));
  expect(snap(t.world, name)).toBeUndefined();
});

test("a resume whose Snapshot is gone makes no pod without its files", async () => {
  const t = setup();
  t.world.addSandbox("sb", { template: { image: "base:1" } });
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.status = { lastSnapshot: "vanished" };
  });
  await t.sandboxes(t.key("sb"));
  expect(t.world.get("Pod", "sb")).toBeUndefined();
  expect(ready(sandbox(t.world, "sb"))).toMatchObject({
    reason: "SnapshotNotReady",
    message: expect.stringMatching(/vanished.*no pod is made without its files/),
  });
});

test("a reconcile that read the cache before the Ready write does not capture (and freeze) again", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("s1", { sandbox: "sb" });
  await t.snapshots(t.key("s1"));
  const inProgress = (() => {
    // What a lagging informer still shows: the Snapshot as it was while the capture ran.
    let seen: Snapshot | undefined;
    const original = t.world.snapshotWriter.writeSnapshotStatus;
    t.world.snapshotWriter.writeSnapshotStatus = async (snap, status) => {
      const written = await original(snap, status);
      if (status.phase === "InProgress") seen = written;
      return written;
    };
    return () => seen;
  })();
  await t.snapshots(t.key("s1"));
  expect(snap(t.world, "s1")?.status?.phase).toBe("Ready");
  const stale = inProgress();
  const ready = snap(t.world, "s1");
  t.world.add("Snapshot", stale as Snapshot);
  const calls = t.world.agentCalls.length;
  const freezes = t.world.envdCalls.length;
  await t.snapshots(t.key("s1"));
  expect(t.world.agentCalls.length).toBe(calls);
  expect(t.world.envdCalls.length).toBe(freezes);
  t.world.add("Snapshot", ready as Snapshot);
  await t.snapshots(t.key("s1"));
  expect(t.world.agentCalls.length).toBe(calls);
});

/** The fake agent refuses Memory captures as a Kata node's would; other calls go through. */
function kataAgent(t: ReturnType<typeof setup>) {
  const capture = t.world.agent.capture.bind(t.world.agent);
  t.world.agent.capture = async (hostIP, req) => {
    if (req.mode === "Memory") {
      t.world.agentCalls.push({ op: "capture", hostIP, req });
      throw new NodeAgentCallError(
        "the node agent answered 422: Memory snapshots need a runc-class runtime; this container runs on io.containerd.kata.v2",
        "RuntimeNotSupported",
      );
    }
    return capture(hostIP, req);
  };
}

test("a Memory Snapshot of a running sandbox: checkpointed without a freeze; the node and checkpoint image recorded", async () => {
  const t = setup();
  await runningSandbox(t);
  t.world.addSnapshot("m1", { sandbox: "sb", mode: "Memory" });
  await t.snapshots(t.key("m1"));
  const envdBefore = t.world.envdCalls.length;
  await t.snapshots(t.key("m1"));
  const s = snap(t.world, "m1");
  const uid = s?.metadata.uid ?? "";
  expect(t.world.envdCalls.slice(envdBefore)).not.toContain(true);
  expect(t.world.agentCalls).toEqual([
    {
      op: "capture",
      hostIP: "192.0.2.10",
      req: {
        id: uid,
        containerID: `containerd://${"c".repeat(64)}`,
        key: `snapshots/team-a/m1-${uid}/memory.tar`,
        mode: "Memory",
        target: { namespace: "team-a", pod: "sb", container: "sandbox" },
        image: `localhost/soulbox/checkpoint/team-a/m1:${uid}`,
        rootfsImage: "base:1",
        executorSocket: "/soulbox/run/executor.sock",
      },
    },
  ]);
  expect(s?.status).toMatchObject({
    phase: "Ready",
    parts: [{ name: "memory", key: `snapshots/team-a/m1-${uid}/memory.tar`, size: 1234 }],
    node: "node-1",
    checkpointImage: `localhost/soulbox/checkpoint/team-a/m1:${uid}`,
  });
});

test("a Memory Snapshot on a runtime CRIU cannot reach is Failed (ModeNotSupported) with the agent's reason", async () => {
  const t = setup();
  kataAgent(t);
  await runningSandbox(t);
  t.world.addSnapshot("m1", { sandbox: "sb", mode: "Memory" });
  await t.snapshots(t.key("m1"));
  await t.snapshots(t.key("m1"));
  expect(snap(t.world, "m1")?.status?.phase).toBe("Failed");
  expect(ready(snap(t.world, "m1"))).toMatchObject({
    status: "False",
    reason: "ModeNotSupported",
    message: expect.stringMatching(/runc-class runtime.*kata/),
  });
});

/** Pauses `sb` with pauseMode Memory up to its pause Snapshot's capture; returns its name. */
async function pauseMemory(t: ReturnType<typeof setup>, fallback = false) {
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Paused";
    s.spec.pauseMode = "Memory";
    if (fallback) s.spec.pauseFallback = "Filesystem";
  });
  await t.sandboxes(t.key("sb")); // freezes, creates the pause Snapshot
  const name = t.world.writes.find((w) => w.kind === "Snapshot" && w.verb === "create")?.name ?? "";
  expect(snap(t.world, name)?.spec.mode).toBe("Memory");
  await t.snapshots(t.key(name)); // finalizer
  await t.snapshots(t.key(name)); // capture
  return name;
}

test("a Memory pause on Kata without a fallback is refused: the sandbox is thawed and says why", async () => {
  const t = setup();
  kataAgent(t);
  await runningSandbox(t);
  const name = await pauseMemory(t);
  expect(snap(t.world, name)?.status?.phase).toBe("Failed");
  await t.sandboxes(t.key("sb"));
  const sb = sandbox(t.world, "sb");
  expect(sb?.status?.phase).toBe("Running");
  // A refusal (the gateway answers 409), not a fault (500): no retry would take this pause.
  expect(sb?.status?.conditions?.find((c) => c.type === "Paused")).toMatchObject({
    status: "False",
    reason: "PauseModeNotSupported",
    message: expect.stringMatching(
      /cannot be taken: .*runc-class runtime.*keeps running.*pauseFallback/,
    ),
  });
  expect(t.world.envdCalls.at(-1)).toBe(false);
});

test("a Memory pause on Kata with pauseFallback Filesystem stores the files instead, and says so", async () => {
  const t = setup();
  kataAgent(t);
  await runningSandbox(t);
  const name = await pauseMemory(t, true);
  const s = snap(t.world, name);
  expect(s?.status?.phase).toBe("Ready");
  expect(s?.status?.parts?.map((p) => p.name)).toEqual(["filesystem"]);
  expect(ready(s)?.message).toMatch(/Memory is not possible here.*pauseFallback Filesystem/);
  expect(t.world.agentCalls.map((c) => (c.req as { mode?: string }).mode)).toEqual([
    "Memory",
    undefined,
  ]);
  expect(t.world.envdCalls.at(-1)).toBe(true); // still frozen: it is a pause
});

test("a Memory pause and resume: checkpointed running (never frozen), the pod goes; the new pod runs the checkpoint image on that node, the image is checked, then the executor woken", async () => {
  const t = setup();
  await runningSandbox(t);
  const envdBefore = t.world.envdCalls.length;
  const name = await pauseMemory(t);
  const stored = snap(t.world, name);
  expect(stored?.status?.phase).toBe("Ready");
  // CRIU stops the container for the dump; stopped processes would deadlock it.
  expect(t.world.envdCalls.slice(envdBefore)).not.toContain(true);
  await t.sandboxes(t.key("sb")); // lastSnapshot
  await t.sandboxes(t.key("sb")); // the pod goes
  await t.sandboxes(t.key("sb"));
  expect(t.world.get("Pod", "sb")).toBeUndefined();
  expect(sandbox(t.world, "sb")?.status?.phase).toBe("Paused");

  expect(stored?.status?.nodeAddress).toBe("192.0.2.10");
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Running";
  });
  const callsBefore = t.world.agentCalls.length;
  await t.sandboxes(t.key("sb"));
  // Before the pod is made, the checkpoint's node is asked to have the image (it may still be
  // importing it): the kubelet must never try to pull it.
  expect(t.world.agentCalls.slice(callsBefore)).toEqual([
    expect.objectContaining({
      op: "restoreImage",
      hostIP: "192.0.2.10",
      req: expect.objectContaining({ image: stored?.status?.checkpointImage }),
    }),
  ]);
  const pod = t.world.get<k8s.V1Pod>("Pod", "sb");
  const sandboxContainer = pod?.spec?.containers.find((c) => c.name === "sandbox");
  expect(sandboxContainer?.image).toBe(stored?.status?.checkpointImage);
  expect(sandboxContainer?.command).not.toContain("--wait-for");
  expect(pod?.spec?.affinity?.nodeAffinity).toEqual({
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] },
      ],
    },
  });
  expect(pod?.metadata?.annotations?.["soulbox.dev/restore-from"]).toBe(name);

  // On the node, the container not created yet: the agent makes sure of the image.
  t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
    p.status = { phase: "Pending", hostIP: "192.0.2.10", conditions: [] };
  });
  await t.sandboxes(t.key("sb"));
  expect(t.world.agentCalls.at(-1)).toMatchObject({
    op: "restoreImage",
    hostIP: "192.0.2.10",
    req: {
      key: stored?.status?.parts?.[0]?.key,
      sha256: "a".repeat(64),
      image: stored?.status?.checkpointImage,
      container: "sandbox",
    },
  });
  expect(ready(sandbox(t.world, "sb"))).toMatchObject({ status: "False", reason: "Restoring" });

  // Restored and running: its executor is woken.
  t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
    p.status = {
      phase: "Running",
      podIP: "10.244.0.9",
      hostIP: "192.0.2.10",
      containerStatuses: [
        {
          name: "sandbox",
          image: "x",
          imageID: "x",
          ready: false,
          restartCount: 0,
          containerID: `containerd://${"e".repeat(64)}`,
          state: { running: {} },
        },
      ],
      conditions: [{ type: "PodScheduled", status: "True" }],
    };
  });
  await t.sandboxes(t.key("sb"));
  expect(t.world.agentCalls.at(-1)).toMatchObject({
    op: "wake",
    req: { containerID: `containerd://${"e".repeat(64)}` },
  });
  // Ready: envd reaches it; the sandbox runs and is not paused.
  t.world.podReady("sb");
  await t.sandboxes(t.key("sb"));
  expect(t.world.envdCalls.slice(envdBefore)).not.toContain(true);
  const resumed = sandbox(t.world, "sb");
  expect(ready(resumed)?.status).toBe("True");
  expect(resumed?.status?.phase).toBe("Running");
  expect(resumed?.status?.conditions?.find((c) => c.type === "Paused")?.status).toBe("False");
});

test.each<[string, () => Error | undefined, k8s.V1PodStatus, RegExp]>([
  [
    "a corrupted archive is refused",
    () =>
      new NodeAgentCallError("the node agent answered 422: sha256 differs", "IntegrityMismatch"),
    { phase: "Pending", hostIP: "192.0.2.10" },
    /refusing to restore the Memory Snapshot .*sha256 differs/,
  ],
  [
    "the checkpoint's node is gone",
    () => undefined,
    {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
        },
      ],
    },
    /only be restored on the node node-1.*didn't match/,
  ],
])(
  "a Memory resume that cannot go on says why (RestoreFailed): %s",
  async (_, error, status, why) => {
    const t = setup();
    await runningSandbox(t);
    await pauseMemory(t);
    for (let i = 0; i < 3; i++) await t.sandboxes(t.key("sb"));
    expect(t.world.get("Pod", "sb")).toBeUndefined();
    t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
      s.spec.state = "Running";
    });
    await t.sandboxes(t.key("sb"));
    t.world.edit<k8s.V1Pod>("Pod", "sb", (p) => {
      p.status = status;
    });
    const err = error();
    if (err) t.world.failAgent(err);
    await attempt(() => t.sandboxes(t.key("sb")));
    expect(ready(sandbox(t.world, "sb"))).toMatchObject({
      status: "False",
      reason: "RestoreFailed",
      message: expect.stringMatching(why),
    });
  },
);

test.each<[string, Error, boolean]>([
  [
    "a stored archive that is refused: no pod is made (RestoreFailed)",
    new NodeAgentCallError("the node agent answered 422: sha256 differs", "IntegrityMismatch"),
    false,
  ],
  [
    "a node agent that cannot be reached yet: the pod is made (its restore step asks again)",
    new NodeAgentCallError("the node agent did not answer"),
    true,
  ],
])("before a Memory resume's pod, the checkpoint image is asked for: %s", async (_, err, made) => {
  const t = setup();
  await runningSandbox(t);
  await pauseMemory(t);
  for (let i = 0; i < 3; i++) await t.sandboxes(t.key("sb"));
  t.world.edit<Sandbox>("Sandbox", "sb", (s) => {
    s.spec.state = "Running";
  });
  t.world.failAgent(err);
  await attempt(() => t.sandboxes(t.key("sb")));
  expect(t.world.agentCalls.at(-1)?.op).toBe("restoreImage");
  expect(t.world.get("Pod", "sb") !== undefined).toBe(made);
  if (!made)
    expect(ready(sandbox(t.world, "sb"))).toMatchObject({
      status: "False",
      reason: "RestoreFailed",
      message: expect.stringMatching(/refusing to restore the Memory Snapshot .*sha256 differs/),
    });
});

test.each([
  [undefined, ""],
  [{}, ""],
  [{ checkpoint: 1200, store: 800 }, " (checkpoint 1200 ms, store 800 ms)"],
])("the capture's steps %j read %j in the Snapshot's message", (steps, note) => {
  expect(stepsNote(steps)).toBe(note);
});

describe("sandboxPod: a Snapshot captures the Sandbox's own pod, or the pool pod it took", () => {
  const sb = (podName?: string) =>
    ({
      metadata: { name: "sb", namespace: "ns", uid: "u-sb" },
      spec: {},
      ...(podName ? { status: { podName } } : {}),
    }) as unknown as Sandbox;
  const pod = (name: string, controllerUid?: string) =>
    ({
      metadata: {
        name,
        // A pool pod keeps its pool label once taken (the Sandbox's own pod has none).
        ...(name.startsWith("py-") ? { labels: { "soulbox.dev/pool": "py" } } : {}),
        ...(controllerUid
          ? { ownerReferences: [{ controller: true, uid: controllerUid, kind: "Sandbox" }] }
          : {}),
      },
    }) as k8s.V1Pod;
  const cacheOf = (pods: k8s.V1Pod[]) => ({
    get: (name: string) => pods.find((p) => p.metadata?.name === name),
  });
  test.each<[string, Sandbox, k8s.V1Pod[], string | undefined]>([
    ["its own pod", sb("sb"), [pod("sb", "u-sb")], "sb"],
    ["the pool pod it took", sb("py-p-1"), [pod("py-p-1", "u-sb")], "py-p-1"],
    ["not a pool pod another Sandbox took", sb("py-p-1"), [pod("py-p-1", "u-other")], undefined],
    ["not a pod the status does not name", sb(), [pod("py-p-1", "u-sb")], undefined],
  ])("%s", (_, sandbox, pods, want) =>
    expect(sandboxPod(sandbox, cacheOf(pods), "ns")?.metadata?.name).toBe(want),
  );
});
