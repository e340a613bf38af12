/**
 * The Snapshot reconciler and the Sandbox reconciler's Filesystem pause and restore, against the
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
import { createSnapshotReconciler } from "./reconcile-snapshot.js";
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
  ["mode Memory", {}, () => ({ sandbox: "sb", mode: "Memory" }), "ModeNotSupported"],
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
  expect(t.deleted).toEqual([key]);
  expect(snap(t.world, "s1")).toBeUndefined();
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
