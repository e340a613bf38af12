/**
 * The Sandbox reconciler against an in-memory world (no cluster): what it
 * writes, what it writes when a step fails, and that a settled world costs no
 * write at all.
 */
import type { V1NetworkPolicy, V1Pod } from "@kubernetes/client-node";
import type { Sandbox, SandboxSpec } from "../../../api/gen/crd-types.js";
import { apiError, createFakeWorld, type FakeWorld } from "../../test-support/fake-world.js";
import { driftedFrom } from "../kube/drift.js";
import { toWire } from "../kube/wire.js";
import { desiredNetworkPolicy } from "../sandbox/desired-network-policy.js";
import { EnvdCallError } from "./envd-client.js";
import { createSandboxReconciler } from "./reconcile-sandbox.js";

const T0 = Date.parse("2026-03-01T10:00:10Z");

function setup(
  spec: SandboxSpec = { template: { image: "base:1" } },
  labels?: Record<string, string>,
) {
  const world = createFakeWorld();
  let tick = 0;
  const reconcile = createSandboxReconciler({
    ...world.deps,
    now: () => new Date(T0 + 10_000 * tick++),
  });
  world.addSandbox("sb1", spec, labels);
  const run = () => reconcile(`${world.ns}/sb1`);
  return { world, run };
}

const sandbox = (w: FakeWorld) => w.get<Sandbox>("Sandbox", "sb1");
const condition = (w: FakeWorld, type: string) =>
  sandbox(w)?.status?.conditions?.find((c) => c.type === type);
const writesSince = (w: FakeWorld, from: number) =>
  w.writes.slice(from).map((x) => `${x.verb} ${x.kind}`);

/** The template ConfigMap a `templateRef: python` names. */
function addPythonTemplate(world: FakeWorld) {
  world.add("ConfigMap", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "python" },
    data: { template: "image: python:3\n" },
  } as never);
}

/** Reconciles until the pod exists, makes it Ready, and reconciles once more. */
async function settle(world: FakeWorld, run: () => Promise<unknown>) {
  await run();
  world.podReady("sb1");
  await run();
}

describe("a settled world", () => {
  // Every row has its labels, so that jest never takes the test for a done-callback one.
  test.each<[string, SandboxSpec, Record<string, string> | undefined]>([
    ["an inline template", { template: { image: "base:1" } }, undefined],
    [
      "labels and a team",
      { template: { image: "base:1" }, metadata: { purpose: "ci" } },
      { "soulbox.dev/team": "blue" },
    ],
    [
      "an allow-list with a hostname",
      { template: { image: "base:1" }, network: { allowEgress: ["10.1.0.0/16", "example.com"] } },
      undefined,
    ],
    ["a timeout", { template: { image: "base:1" }, timeoutSeconds: 3600 }, undefined],
    ["a frozen sandbox", { template: { image: "base:1" }, state: "Paused" }, undefined],
    [
      "a refused pause mode",
      { template: { image: "base:1" }, state: "Paused", pauseMode: "Memory" },
      undefined,
    ],
    ["a templateRef", { templateRef: "python" }, undefined],
  ])(
    "%s: 20 reconciles after it settled write nothing and record no event",
    async (_name, spec, labels) => {
      const { world, run } = setup(spec, labels);
      addPythonTemplate(world);
      await settle(world, run);
      expect(condition(world, "Ready")?.status).toBe("True");
      const settled = sandbox(world);
      const [writes, events] = [world.writes.length, world.events.length];

      for (let i = 0; i < 20; i++) await run();

      expect(writesSince(world, writes)).toEqual([]);
      expect(world.events.slice(events)).toEqual([]);
      expect(sandbox(world)).toEqual(settled);
      const types = settled?.status?.conditions?.map((c) => c.type) ?? [];
      expect(new Set(types).size).toBe(types.length);
    },
  );

  test("the first reconcile creates the token Secret and applies the NetworkPolicy and the pod, then writes the status once", async () => {
    const { world, run } = setup();
    await run();
    expect(writesSince(world, 0)).toEqual([
      "create Secret",
      "apply NetworkPolicy",
      "apply Pod",
      "writeStatus Sandbox",
    ]);
    expect(condition(world, "PodUpToDate")).toMatchObject({
      status: "True",
      reason: "SpecCurrent",
    });
  });

  test("a NetworkPolicy cached in client-node's typed form (`_from`, as a list gives it) is not drift", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<Record<string, unknown>>("NetworkPolicy", "sb1", (p) => {
      const typed = JSON.stringify(p).replaceAll('"from":', '"_from":');
      Object.assign(p, JSON.parse(typed));
    });
    expect(JSON.stringify(world.get("NetworkPolicy", "sb1"))).toContain('"_from"');
    const writes = world.writes.length;
    await run();
    expect(writesSince(world, writes)).toEqual([]);
  });
});

describe("a failing step", () => {
  test.each<[string, "create" | "apply", string, string[], RegExp]>([
    [
      "the token Secret",
      "create",
      "Secret",
      ["apply NetworkPolicy", "apply Pod", "writeStatus Sandbox"],
      /could not apply the Secret team-a\/sb1-envd: 500: etcd is down/,
    ],
    [
      "the NetworkPolicy",
      "apply",
      "NetworkPolicy",
      ["create Secret", "apply Pod", "writeStatus Sandbox"],
      /could not apply the NetworkPolicy team-a\/sb1: 500: etcd is down/,
    ],
    [
      "the pod",
      "apply",
      "Pod",
      ["create Secret", "apply NetworkPolicy", "writeStatus Sandbox"],
      /could not create the pod team-a\/sb1: 500: etcd is down/,
    ],
  ])(
    "%s: the other children are still applied, the status says Ready=False ApplyFailed, and the error is thrown",
    async (_name, verb, kind, others, message) => {
      const { world, run } = setup();
      const error = apiError(500, "etcd is down");
      world.fail(verb, kind, error);

      await expect(run()).rejects.toBe(error);

      expect(writesSince(world, 0)).toEqual(others);
      expect(condition(world, "Ready")).toMatchObject({ status: "False", reason: "ApplyFailed" });
      expect(condition(world, "Ready")?.message).toMatch(message);
      expect(world.events.map((e) => e.reason)).toContain("ApplyFailed");

      world.heal();
      await run();
      expect(condition(world, "Ready")?.reason).not.toBe("ApplyFailed");
    },
  );

  test("a failing NetworkPolicy apply does not make a Ready sandbox's status churn while it keeps failing", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<V1NetworkPolicy>("NetworkPolicy", "sb1", (p) => p.spec?.egress?.push({}));
    world.fail("apply", "NetworkPolicy", apiError(403, "forbidden"));
    await expect(run()).rejects.toThrow();
    expect(condition(world, "Ready")).toMatchObject({ status: "False", reason: "ApplyFailed" });
    const writes = world.writes.length;
    for (let i = 0; i < 5; i++) await expect(run()).rejects.toThrow();
    expect(writesSince(world, writes)).toEqual([]);
  });

  test("a failing freeze: Paused=False FreezeFailed, phase Pausing, the error thrown", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<Sandbox>("Sandbox", "sb1", (s) => (s.spec.state = "Paused"));
    const error = new EnvdCallError("envd answered POST /freeze with 500: cgroup gone", 500);
    world.failEnvd(error);

    await expect(run()).rejects.toBe(error);

    expect(condition(world, "Paused")).toMatchObject({ status: "False", reason: "FreezeFailed" });
    expect(condition(world, "Paused")?.message).toMatch(/cgroup gone/);
    expect(condition(world, "Ready")?.status).toBe("True"); // the children are fine
    expect(sandbox(world)?.status?.phase).toBe("Pausing");
    world.heal();
    await run();
    expect(condition(world, "Paused")).toMatchObject({ status: "True", reason: "Frozen" });
  });

  test("a failing thaw: Paused=True ThawFailed, the sandbox stays frozen", async () => {
    const { world, run } = setup({ template: { image: "base:1" }, state: "Paused" });
    await settle(world, run);
    expect(condition(world, "Paused")?.status).toBe("True");
    world.edit<Sandbox>("Sandbox", "sb1", (s) => (s.spec.state = "Running"));
    world.failEnvd(new EnvdCallError("envd at x did not answer POST /thaw"));

    await expect(run()).rejects.toThrow(/thaw/);

    expect(condition(world, "Paused")).toMatchObject({ status: "True", reason: "ThawFailed" });
    expect(sandbox(world)?.status?.phase).toBe("Resuming");
  });
});

describe("drift", () => {
  const egressOpened = (p: V1NetworkPolicy) => p.spec?.egress?.push({});
  test.each<[string, (p: V1NetworkPolicy) => void]>([
    ["an egress rule that allows everything", egressOpened],
    [
      "the DNS rule opened to every port",
      (p) => {
        delete p.spec?.egress?.[0]?.ports;
      },
    ],
    [
      "one range no longer excepted",
      (p) => {
        const to = p.spec?.egress?.[1]?.to?.[0];
        if (to?.ipBlock) to.ipBlock.except = to.ipBlock.except?.slice(1);
      },
    ],
    [
      "private ranges no longer excepted",
      (p) => {
        const to = p.spec?.egress?.[1]?.to?.[0];
        if (to?.ipBlock) delete to.ipBlock.except;
      },
    ],
    [
      "egress no longer a policy type",
      (p) => {
        if (p.spec) p.spec.policyTypes = ["Ingress"];
      },
    ],
    [
      "ingress from every pod",
      (p) => {
        if (p.spec) p.spec.ingress = [{}];
      },
    ],
    [
      "the sandbox label removed",
      (p) => {
        delete p.metadata?.labels?.["soulbox.dev/sandbox"];
      },
    ],
  ])(
    "a hand-edited NetworkPolicy (%s) is put back by the next reconcile",
    async (_name, change) => {
      const { world, run } = setup();
      await settle(world, run);
      const before = world.get<V1NetworkPolicy>("NetworkPolicy", "sb1");
      world.edit<V1NetworkPolicy>("NetworkPolicy", "sb1", change);
      const writes = world.writes.length;

      await run();

      expect(writesSince(world, writes)).toEqual(["apply NetworkPolicy"]);
      const desired = desiredNetworkPolicy(sandbox(world) as Sandbox).policy;
      expect(
        driftedFrom(world.get("NetworkPolicy", "sb1"), toWire(desired, "V1NetworkPolicy")),
      ).toEqual([]);
      expect(world.get<V1NetworkPolicy>("NetworkPolicy", "sb1")?.spec).toEqual(before?.spec);
      expect(world.events.at(-1)).toMatchObject({ type: "Warning", reason: "DriftRepaired" });
      await run();
      expect(writesSince(world, writes)).toEqual(["apply NetworkPolicy"]);
    },
  );

  test("a label someone else added to the NetworkPolicy is not drift", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<V1NetworkPolicy>("NetworkPolicy", "sb1", (p) => {
      p.metadata = { ...p.metadata, labels: { ...p.metadata?.labels, audit: "yes" } };
    });
    const writes = world.writes.length;
    await run();
    expect(writesSince(world, writes)).toEqual([]);
  });

  test.each<[string, (labels: Record<string, string>) => void]>([
    ["a spec.metadata label changed", (l) => (l.purpose = "mining")],
    ["the sandbox label removed", (l) => delete l["soulbox.dev/sandbox"]],
    ["the team label removed", (l) => delete l["soulbox.dev/team"]],
  ])("pod labels: %s is patched back, the spec left alone", async (_name, change) => {
    const { world, run } = setup(
      { template: { image: "base:1" }, metadata: { purpose: "ci" } },
      { "soulbox.dev/team": "blue" },
    );
    await settle(world, run);
    const want = world.get<V1Pod>("Pod", "sb1")?.metadata?.labels;
    world.edit<V1Pod>("Pod", "sb1", (p) => change(p.metadata?.labels ?? {}));
    const writes = world.writes.length;

    await run();

    expect(writesSince(world, writes)).toEqual(["patchLabels Pod"]);
    expect(world.get<V1Pod>("Pod", "sb1")?.metadata?.labels).toEqual(want);
  });

  test("a pod label the Sandbox now asks for is added to the running pod", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<Sandbox>("Sandbox", "sb1", (s) => (s.spec.metadata = { owner: "ada" }));
    await run();
    expect(world.get<V1Pod>("Pod", "sb1")?.metadata?.labels).toMatchObject({ owner: "ada" });
  });
});

describe("a changed pod spec", () => {
  test("a new template image: the pod is kept, PodUpToDate=False SpecChanged, one event", async () => {
    const { world, run } = setup();
    await settle(world, run);
    const pod = world.get<V1Pod>("Pod", "sb1");
    world.edit<Sandbox>("Sandbox", "sb1", (s) => (s.spec.template = { image: "base:2" }));
    const writes = world.writes.length;

    await run();
    await run();

    expect(writesSince(world, writes)).toEqual(["writeStatus Sandbox"]);
    expect(world.get<V1Pod>("Pod", "sb1")).toEqual(pod);
    expect(condition(world, "PodUpToDate")).toMatchObject({
      status: "False",
      reason: "SpecChanged",
    });
    expect(condition(world, "Ready")?.status).toBe("True");
    expect(world.events.filter((e) => e.reason === "SpecChanged")).toHaveLength(1);
  });

  test("an image edited in place on the pod is reported", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<V1Pod>("Pod", "sb1", (p) => {
      const c = p.spec?.containers.find((x) => x.name === "sandbox");
      if (c) c.image = "evil:1";
    });
    await run();
    expect(condition(world, "PodUpToDate")?.message).toMatch(/container sandbox runs evil:1/);
  });

  test("a pod deleted while outdated comes back with the current spec", async () => {
    const { world, run } = setup();
    await settle(world, run);
    world.edit<Sandbox>("Sandbox", "sb1", (s) => (s.spec.template = { image: "base:2" }));
    await run();
    world.edit<V1Pod>("Pod", "sb1", (p) => (p.status = { phase: "Failed" }));
    await run(); // deletes the finished pod
    await run(); // creates the new one
    const pod = world.get<V1Pod>("Pod", "sb1");
    expect(pod?.spec?.containers.find((c) => c.name === "sandbox")?.image).toBe("base:2");
    expect(condition(world, "PodUpToDate")?.reason).toBe("SpecCurrent");
  });

  test("a template that can no longer be read while the pod runs: PodUpToDate Unknown, Ready kept, retried", async () => {
    const { world, run } = setup({ templateRef: "python" });
    addPythonTemplate(world);
    await settle(world, run);
    world.deps.reader.configMap = () => Promise.reject(apiError(500, "etcd is down"));
    await expect(run()).rejects.toThrow();
    expect(condition(world, "PodUpToDate")).toMatchObject({
      status: "Unknown",
      reason: "SpecUnknown",
    });
    expect(condition(world, "Ready")?.status).toBe("True");
  });
});
