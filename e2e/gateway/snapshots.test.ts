/**
 * Pause without memory, pause with memory (the release takes it as a CRIU checkpoint:
 * gateway.memoryPause Memory, nodeAgent.memory), named snapshots (also with memory), creates from
 * a snapshot and forks through a chart-installed gateway, with the official `e2b` SDKs unchanged (JS here, Python through
 * python/snapshot_check.py): the files survive five filesystem pause/resume cycles in a row under
 * the same sandbox id and envd token; a named snapshot is listed, starts new sandboxes after its
 * sandbox is gone, and is deleted; a fork has the source's files and environment and leaves the
 * source running; a killed sandbox cannot be forked; bad input answers E2B's statuses and
 * creates nothing.
 */
import { Sandbox, SandboxNotFoundError } from "e2b";
import * as k8s from "@kubernetes/client-node";
import type { Sandbox as SandboxObject, Snapshot } from "../../api/gen/crd-types.js";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import {
  installGatewayRelease,
  runPythonCheck,
  useSdkEnv,
  type GatewayRelease,
} from "./release.js";

let gw: GatewayRelease;
let restoreEnv: () => void;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;

const OBJECTS = { group: "soulbox.dev", version: "v1alpha1" } as const;

/** A raw call to the REST API with the team's key: status and parsed body. */
async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.env.E2B_API_URL}${path}`, {
    method,
    headers: {
      "X-API-Key": gw.env.E2B_API_KEY ?? "",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

const listObjects = async <T>(plural: string): Promise<T[]> =>
  (
    (await custom.listNamespacedCustomObject({ ...OBJECTS, namespace: gw.namespace, plural })) as {
      items: T[];
    }
  ).items;
const sandboxObject = async (id: string) =>
  (await custom.getNamespacedCustomObject({
    ...OBJECTS,
    namespace: gw.namespace,
    plural: "sandboxes",
    name: id,
  })) as SandboxObject;
const snapshotsOf = async (sandbox: string) =>
  (await listObjects<Snapshot>("snapshots")).filter((s) => s.spec.sandbox === sandbox);

async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ms = (t0: number) => Date.now() - t0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

beforeAll(async () => {
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig(), { snapshots: true, memory: true });
  restoreEnv = useSdkEnv(gw);
  custom = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  core = kubeConfig().makeApiClient(k8s.CoreV1Api);
}, 300_000);

afterAll(async () => {
  restoreEnv?.();
  await gw?.uninstall();
}, 180_000);

test("pause without memory and resume, 5 times in a row: every file is there, same id and token", async () => {
  const sbx = await Sandbox.create("base", { timeoutMs: 600_000 });
  const pauses: number[] = [];
  const resumes: number[] = [];
  try {
    for (let cycle = 1; cycle <= 5; cycle++) {
      await sbx.files.write(`/home/user/cycle-${cycle}.txt`, `written in cycle ${cycle}`);
      const t0 = Date.now();
      if (cycle === 1) {
        // Two pauses at once: the second waits for the first (idempotent), neither fails.
        const both = await Promise.all([
          sbx.pause({ keepMemory: false }),
          Sandbox.pause(sbx.sandboxId, { keepMemory: false }),
        ]);
        expect(both).toContain(true);
      } else expect(await sbx.pause({ keepMemory: false })).toBe(true);
      pauses.push(ms(t0));
      expect(await sbx.pause({ keepMemory: false })).toBe(false); // already paused: 409

      const obj = await sandboxObject(sbx.sandboxId);
      expect(obj.spec.pauseMode).toBe("Filesystem");
      expect(obj.status?.phase).toBe("Paused");
      expect(obj.status?.lastSnapshot).toBeTruthy();
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
      // The pod is gone: the files live in the snapshot only.
      const pods = await core.listNamespacedPod({
        namespace: gw.namespace,
        labelSelector: `soulbox.dev/sandbox=${sbx.sandboxId}`,
      });
      expect(pods.items.filter((p) => !p.metadata?.deletionTimestamp)).toEqual([]);

      const t1 = Date.now();
      const again = await Sandbox.connect(sbx.sandboxId);
      resumes.push(ms(t1));
      expect(again.sandboxId).toBe(sbx.sandboxId);
      // The first handle still works: the envd token did not change.
      for (let i = 1; i <= cycle; i++)
        expect(await sbx.files.read(`/home/user/cycle-${i}.txt`)).toBe(`written in cycle ${i}`);
      expect((await sbx.commands.run("echo up")).stdout).toBe("up\n");
    }
  } finally {
    await sbx.kill();
  }
  console.log(
    `filesystem pause: median ${median(pauses)} ms (${pauses.join(", ")}); connect (resume): median ${median(resumes)} ms (${resumes.join(", ")})`,
  );
}, 900_000);

/** A counting loop in the background: `<its pid> <count>` in /tmp/count, 5 times a second. */
const COUNTER = `sh -c 'i=0; while :; do i=$((i+1)); echo "$$ $i" > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done'`;

async function counterOf(sbx: Sandbox): Promise<{ pid: number; count: number }> {
  const out = (await sbx.commands.run("cat /tmp/count 2>/dev/null || echo 0 0")).stdout.trim();
  const [pid = 0, count = 0] = out.split(/\s+/).map(Number);
  return { pid, count };
}

async function counting(sbx: Sandbox, above: number): Promise<{ pid: number; count: number }> {
  let seen = { pid: 0, count: 0 };
  await waitUntil(`the counter past ${above}`, async () => {
    seen = await counterOf(sbx);
    return seen.count > above;
  });
  return seen;
}

test("pause with memory (the SDKs' default) checkpoints the processes: after connect the counter goes on, same pid", async () => {
  const sbx = await Sandbox.create("base", { timeoutMs: 600_000 });
  try {
    await sbx.commands.run(COUNTER, { background: true });
    const before = await counting(sbx, 3);
    const t0 = Date.now();
    expect(await sbx.pause()).toBe(true);
    const pauseMs = ms(t0);
    const obj = await sandboxObject(sbx.sandboxId);
    expect(obj.spec.pauseMode).toBe("Memory");
    expect(obj.status?.phase).toBe("Paused");
    const snap = (await snapshotsOf(sbx.sandboxId)).find(
      (s) => s.metadata?.name === obj.status?.lastSnapshot,
    );
    expect(snap?.spec.mode).toBe("Memory");
    expect(snap?.status?.phase).toBe("Ready");
    // The pod is gone: the processes live in the checkpoint only.
    const pods = await core.listNamespacedPod({
      namespace: gw.namespace,
      labelSelector: `soulbox.dev/sandbox=${sbx.sandboxId}`,
    });
    expect(pods.items.filter((p) => !p.metadata?.deletionTimestamp)).toEqual([]);

    const t1 = Date.now();
    await Sandbox.connect(sbx.sandboxId);
    const connectMs = ms(t1);
    const after = await counting(sbx, before.count);
    // The same process, going on from its memory (a restart would count from 1 under a new pid).
    expect(after.pid).toBe(before.pid);
    console.log(
      `memory pause: ${pauseMs} ms; connect (restore): ${connectMs} ms; count ${before.count} → ${after.count}`,
    );
  } finally {
    await sbx.kill();
  }
}, 600_000);

test("a named snapshot with memory starts a sandbox whose processes go on", async () => {
  const src = await Sandbox.create("base", { timeoutMs: 600_000 });
  let copy: Sandbox | undefined;
  try {
    await src.commands.run(COUNTER, { background: true });
    const before = await counting(src, 3);
    const name = `mem-${Date.now().toString(36)}`;
    const made = await api("POST", `/sandboxes/${src.sandboxId}/snapshots`, { name, memory: true });
    expect(made.status).toBe(201);
    const named = (await snapshotsOf(src.sandboxId)).find(
      (s) => s.metadata?.labels?.["soulbox.dev/snapshot-name"] === name,
    );
    expect(named?.spec.mode).toBe("Memory");
    // The source runs on after its checkpoint.
    await counting(src, before.count);
    copy = await Sandbox.create(`${gw.namespace}/${name}:default`, { timeoutMs: 300_000 });
    const restored = await counting(copy, before.count);
    expect(restored.pid).toBe(before.pid);
  } finally {
    await copy?.kill();
    await src.kill();
  }
}, 600_000);

test("a named snapshot is listed, starts sandboxes after its sandbox is gone, and is deleted", async () => {
  const src = await Sandbox.create("base", { timeoutMs: 600_000 });
  const name = `snap-${Date.now().toString(36)}`;
  let copy: Sandbox | undefined;
  try {
    await src.files.write("/home/user/named.txt", "in the snapshot");
    const t0 = Date.now();
    const info = await src.createSnapshot({ name });
    console.log(`named snapshot: ${ms(t0)} ms`);
    expect(info).toEqual({
      snapshotId: `${gw.namespace}/${name}:default`,
      names: [`${gw.namespace}/${name}`],
    });
    // The source runs on; what it writes now is not in the snapshot.
    expect((await src.commands.run("cat /home/user/named.txt")).stdout).toBe("in the snapshot");
    await src.files.write("/home/user/later.txt", "after the snapshot");
    const unnamed = await Sandbox.createSnapshot(src.sandboxId);
    expect(unnamed.snapshotId).toMatch(/^[a-z0-9]{20}:default$/);
    expect(unnamed.names).toEqual([]);

    // Listed: by sandbox, by name, one page at a time.
    const bySandbox = await src.listSnapshots().nextItems();
    expect(bySandbox).toEqual(expect.arrayContaining([info, unnamed]));
    expect(bySandbox).toHaveLength(2);
    expect(await Sandbox.listSnapshots({ name }).nextItems()).toEqual([info]);
    const pages = Sandbox.listSnapshots({ sandboxId: src.sandboxId, limit: 1 });
    const first = await pages.nextItems();
    expect(pages.hasNext).toBe(true);
    const second = await pages.nextItems();
    expect([...first, ...second]).toEqual(expect.arrayContaining([info, unnamed]));
    expect(pages.hasNext).toBe(false);

    // The snapshot outlives its sandbox; a new sandbox starts from it by id or by bare name.
    await src.kill();
    const t1 = Date.now();
    copy = await Sandbox.create(info.snapshotId, { timeoutMs: 300_000 });
    console.log(`create from a snapshot: ${ms(t1)} ms`);
    expect(await copy.files.read("/home/user/named.txt")).toBe("in the snapshot");
    expect(await copy.files.exists("/home/user/later.txt")).toBe(false);
    expect((await copy.getInfo()).templateId).toBe("base");
    const byName = await Sandbox.create(name);
    expect(await byName.files.read("/home/user/named.txt")).toBe("in the snapshot");
    await byName.kill();
    const fromUnnamed = await Sandbox.create(unnamed.snapshotId);
    expect(await fromUnnamed.files.read("/home/user/later.txt")).toBe("after the snapshot");
    await fromUnnamed.kill();

    // Not while a sandbox started from it exists (it may need it to start again).
    await expect(Sandbox.deleteSnapshot(info.snapshotId)).rejects.toThrow(
      /^400: cannot delete template .* because there are running sandboxes using it/,
    );
    await copy.kill();
    copy = undefined;
    await waitUntil("the copies are gone", async () =>
      (await listObjects<SandboxObject>("sandboxes")).every(
        (s) => !s.spec.restoreFrom || s.metadata.deletionTimestamp,
      ),
    );
    expect(await Sandbox.deleteSnapshot(info.snapshotId)).toBe(true);
    expect(await Sandbox.deleteSnapshot(unnamed.snapshotId)).toBe(true);
    await waitUntil(
      "the Snapshot objects are gone",
      async () => (await snapshotsOf(src.sandboxId)).length === 0,
    );
    expect(await Sandbox.listSnapshots({ name }).nextItems()).toEqual([]);
    await expect(Sandbox.create(info.snapshotId)).rejects.toThrow(/^404: template .* not found/);
  } finally {
    await copy?.kill();
    await src.kill();
  }
}, 900_000);

test("a fork has the source's files, environment and (memory checkpoints on) processes; the source runs on; the snapshot goes with the forks", async () => {
  const src = await Sandbox.create("base", {
    timeoutMs: 600_000,
    envs: { GREETING: "hello from the source" },
    metadata: { suite: "fork" },
  });
  try {
    await src.files.write("/home/user/fork.txt", "before the fork");
    await src.commands.run(COUNTER, { background: true });
    const counted = await counting(src, 3);
    const t0 = Date.now();
    const forks = await Sandbox.fork(src.sandboxId, { count: 2 });
    console.log(`fork (2 sandboxes): ${ms(t0)} ms`);
    expect(forks).toHaveLength(2);
    const [a, b] = forks;
    if (!(a instanceof Sandbox) || !(b instanceof Sandbox))
      throw new Error(`a fork failed: ${String(forks.find((f) => !(f instanceof Sandbox)))}`);
    expect(new Set([a.sandboxId, b.sandboxId, src.sandboxId]).size).toBe(3);
    for (const f of [a, b]) {
      expect(await f.files.read("/home/user/fork.txt")).toBe("before the fork");
      expect((await f.commands.run("echo $GREETING")).stdout).toBe("hello from the source\n");
      expect((await f.getInfo()).metadata).toEqual({ suite: "fork" });
      // E2B's fork keeps memory: the source's counter goes on in each fork, same pid.
      expect((await counting(f, counted.count)).pid).toBe(counted.pid);
    }
    const forkSnapshot = (await snapshotsOf(src.sandboxId)).find(
      (s) => s.metadata?.labels?.["soulbox.dev/snapshot-kind"] === "fork",
    );
    expect(forkSnapshot?.spec.mode).toBe("Memory");
    // Each is its own sandbox: a write in one is seen nowhere else.
    await a.files.write("/home/user/fork.txt", "changed in a fork");
    expect(await b.files.read("/home/user/fork.txt")).toBe("before the fork");
    expect(await src.files.read("/home/user/fork.txt")).toBe("before the fork");
    expect((await Sandbox.getInfo(src.sandboxId)).state).toBe("running");
    // The instance method works too, and forks are not E2B snapshots.
    const [c] = await src.fork();
    if (!(c instanceof Sandbox)) throw new Error(`the fork failed: ${String(c)}`);
    expect(await src.listSnapshots().nextItems()).toEqual([]);

    await Promise.all([a.kill(), b.kill(), c.kill()]);
    await waitUntil(
      "the fork snapshots are collected with their forks",
      async () => (await snapshotsOf(src.sandboxId)).length === 0,
      90_000,
    );
  } finally {
    await src.kill();
  }
}, 600_000);

test("a killed sandbox cannot be forked; bad input answers E2B's statuses and creates nothing", async () => {
  const gone = await Sandbox.create("base");
  const id = gone.sandboxId;
  await gone.kill();
  await expect(Sandbox.fork(id)).rejects.toBeInstanceOf(SandboxNotFoundError);
  await expect(Sandbox.createSnapshot(id)).rejects.toBeInstanceOf(SandboxNotFoundError);

  const live = await Sandbox.create("base", { timeoutMs: 300_000 });
  try {
    const before = {
      sandboxes: (await listObjects<SandboxObject>("sandboxes")).length,
      snapshots: (await listObjects<Snapshot>("snapshots")).length,
    };
    const cases: [string, () => ReturnType<typeof api>, number, string | RegExp][] = [
      [
        "fork of a killed sandbox",
        () => api("POST", `/sandboxes/${id}/fork`, {}),
        404,
        `sandbox '${id}' not found`,
      ],
      [
        "fork count 0",
        () => api("POST", `/sandboxes/${live.sandboxId}/fork`, { count: 0 }),
        400,
        "Count must be at least 1",
      ],
      [
        "fork count 101",
        () => api("POST", `/sandboxes/${live.sandboxId}/fork`, { count: 101 }),
        400,
        "Count cannot be greater than 100",
      ],
      [
        "memory snapshot, memory not a boolean",
        () => api("POST", `/sandboxes/${live.sandboxId}/snapshots`, { memory: "yes" }),
        400,
        "memory must be true or false",
      ],
      [
        "snapshot of another team",
        () => api("POST", `/sandboxes/${live.sandboxId}/snapshots`, { name: "other/x" }),
        400,
        `Invalid name: namespace 'other' must match your team '${gw.namespace}'`,
      ],
      [
        "snapshot bad name",
        () => api("POST", `/sandboxes/${live.sandboxId}/snapshots`, { name: "bad name" }),
        400,
        "Invalid name: invalid template ID: bad name",
      ],
      [
        // Neither a snapshot nor (E2B's default tag) a template of that name.
        "create from an unknown snapshot",
        () => api("POST", "/v2/sandboxes", { templateID: "no-such-snapshot:default" }),
        404,
        "template 'no-such-snapshot' not found",
      ],
      [
        "create from an unknown tag",
        () => api("POST", "/v2/sandboxes", { templateID: "no-such-snapshot:v9" }),
        404,
        "template 'no-such-snapshot:v9' not found",
      ],
      [
        "create from an unknown snapshot id",
        () => api("POST", "/v2/sandboxes", { templateID: "abcdefghij0123456789" }),
        404,
        "template 'abcdefghij0123456789' not found",
      ],
      [
        "create from another team's snapshot",
        () => api("POST", "/v2/sandboxes", { templateID: "other/x:default" }),
        400,
        `Invalid template ID: namespace 'other' must match your team '${gw.namespace}'`,
      ],
      [
        "delete an unknown snapshot",
        () => api("DELETE", "/snapshots/nosuchsnapshot"),
        404,
        "snapshot 'nosuchsnapshot' not found",
      ],
      [
        "list, limit 0",
        () => api("GET", "/snapshots?limit=0"),
        400,
        /^limit must be a whole number from 1 to 100/,
      ],
      [
        "list, limit 101",
        () => api("GET", "/snapshots?limit=101"),
        400,
        /^limit must be a whole number from 1 to 100/,
      ],
      [
        "list, bad token",
        () => api("GET", "/snapshots?nextToken=garbage"),
        400,
        /^nextToken 'garbage' is not a token from this API/,
      ],
      [
        "list, bad sandbox id",
        () => api("GET", "/snapshots?sandboxID=Bad-Id"),
        400,
        "Invalid sandbox ID",
      ],
      [
        "pause memory not a boolean",
        () => api("POST", `/sandboxes/${live.sandboxId}/pause`, { memory: "no" }),
        400,
        "memory must be true or false",
      ],
      [
        "autoResume with a filesystem pause",
        () =>
          api("POST", "/v2/sandboxes", {
            templateID: "base",
            autoPause: true,
            autoPauseMemory: false,
            autoResume: { enabled: true },
          }),
        400,
        /^autoResume cannot be combined with autoPauseMemory false/,
      ],
    ];
    for (const [what, call, status, message] of cases) {
      const r = await call();
      expect({ what, status: r.status }).toEqual({ what, status });
      const body = r.body as { code: number; message: string };
      expect(body.code).toBe(status);
      if (typeof message === "string") expect(body.message).toBe(message);
      else expect(body.message).toMatch(message);
    }
    expect(await Sandbox.deleteSnapshot("nosuchsnapshot")).toBe(false);
    expect({
      sandboxes: (await listObjects<SandboxObject>("sandboxes")).length,
      snapshots: (await listObjects<Snapshot>("snapshots")).length,
    }).toEqual(before);
    expect((await sandboxObject(live.sandboxId)).spec.state ?? "Running").toBe("Running");
  } finally {
    await live.kill();
  }
}, 300_000);

test("a timeout pause without memory (lifecycle keepMemory false) keeps the files; connect resumes it", async () => {
  const sbx = await Sandbox.create("base", {
    timeoutMs: 10_000,
    lifecycle: { onTimeout: { action: "pause", keepMemory: false } },
  });
  await sbx.files.write("/home/user/timeout.txt", "kept over the timeout");
  expect((await sandboxObject(sbx.sandboxId)).spec).toMatchObject({
    onTimeout: "Pause",
    pauseMode: "Filesystem",
  });
  await waitUntil(
    "the timeout pauses it",
    async () => (await sandboxObject(sbx.sandboxId)).status?.phase === "Paused",
    90_000,
  );
  const again = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 120_000 });
  expect(await again.files.read("/home/user/timeout.txt")).toBe("kept over the timeout");
  await again.kill();
}, 300_000);

test("the Python SDK: pause without memory, resume, pause with memory, a named snapshot, a sandbox from it", () => {
  const seen = runPythonCheck(gw, "snapshot_check.py", [`py-${Date.now().toString(36)}`], 400_000);
  expect(seen).toMatchObject({
    paused: true,
    paused_again: false,
    state_while_paused: "paused",
    after_resume: "written by Python",
    memory_paused: true,
    memory_state_while_paused: "paused",
    memory_same_pid: true,
    snapshot_names: [expect.stringMatching(new RegExp(`^${gw.namespace}/py-`))],
    listed: true,
    from_snapshot: "written by Python",
    deleted: true,
    deleted_again: false,
    fork_of_killed: "SandboxNotFoundException",
  });
});
