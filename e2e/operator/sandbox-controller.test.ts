/**
 * The Sandbox controller against the real API server and the real node of the
 * test run: one namespace and one controller (scoped to it) per test. It runs
 * in the test process, and it drives envd in real pods, so it lives with the
 * cross-component tests.
 */
import { isDeepStrictEqual } from "node:util";
import * as k8s from "@kubernetes/client-node";
import {
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { sdkSandboxAt } from "../envd-sdk/sandbox.js";
import {
  IMAGES,
  conditionOf,
  installCrds,
  sandboxApi,
} from "../../operator/test-support/operator.js";
import type { Sandbox } from "../../api/gen/crd-types.js";
import { createLogger } from "../../lib/log.js";
import { createOperatorMetrics, type OperatorMetrics } from "../../operator/src/metrics.js";
import {
  startSandboxController,
  type SandboxController,
} from "../../operator/src/controller/sandbox-controller.js";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const net = kc.makeApiClient(k8s.NetworkingV1Api);
let ns: { name: string; dispose(): Promise<void> };
let controller: SandboxController;
let sandboxes: ReturnType<typeof sandboxApi>;
let logs: string[];
let metrics: OperatorMetrics;

beforeAll(() => installCrds());
beforeEach(async () => {
  ns = await testNamespace(kc, "sbx");
  sandboxes = sandboxApi(kc, ns.name);
  logs = [];
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    log: createLogger("debug", {}, (l) => logs.push(l)),
    metrics: (metrics = createOperatorMetrics()),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
  });
  await controller.synced;
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await controller.stop();
  await ns.dispose();
});

const ready = (name: string, timeoutMs = 120_000) =>
  waitFor(
    `sandbox ${name} Ready`,
    async () => {
      const sb = await sandboxes.get(name);
      return conditionOf(sb, "Ready")?.status === "True" ? sb : undefined;
    },
    timeoutMs,
  );

async function tokenOf(name: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name: `${name}-envd`, namespace: ns.name });
  return Buffer.from(secret.data?.token ?? "", "base64").toString("utf8");
}

test("a Sandbox becomes Ready with its owned children and runs echo through envd", async () => {
  const created = await sandboxes.create("hello", {
    template: { image: IMAGES.base },
    metadata: { purpose: "test" },
  });
  const sb = await ready("hello");
  expect(sb.status).toMatchObject({
    phase: "Running",
    podName: "hello",
    nodeName: "soulbox-node",
    observedGeneration: created.metadata.generation,
  });
  expect(sb.status?.envdEndpoint).toBe(`http://${sb.status?.podIP}:49983`);
  expect(sb.status?.startedAt).toBeDefined();

  const pod = await core.readNamespacedPod({ name: "hello", namespace: ns.name });
  const secret = await core.readNamespacedSecret({ name: "hello-envd", namespace: ns.name });
  const policy = await net.readNamespacedNetworkPolicy({ name: "hello", namespace: ns.name });
  for (const child of [pod, secret, policy])
    expect(child.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: "Sandbox",
        name: "hello",
        uid: created.metadata.uid,
        controller: true,
      }),
    ]);
  expect(pod.spec?.initContainers?.[0]).toMatchObject({ name: "envd", restartPolicy: "Always" });
  expect(pod.metadata?.labels).toMatchObject({ purpose: "test" });
  expect(JSON.stringify(sb)).not.toContain(await tokenOf("hello")); // the token lives in the Secret only

  const sdk = sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf("hello"));
  const run = await sdk.commands.run("echo hello from $(whoami)");
  expect(run.stdout).toBe("hello from user\n");
  // The executor runs from the kit the pod mounts read-only from the envd image (kitVolume
  // image): a real image volume, not a copy.
  expect(pod.spec?.volumes?.find((v) => v.name === "soulbox-kit")?.image?.reference).toBe(
    IMAGES.envd,
  );
  const kit = await sdk.commands.run(
    "grep ' /soulbox/kit ' /proc/self/mountinfo | grep -c ' ro,'; touch /soulbox/kit/x 2>&1 || true",
  );
  expect(kit.stdout).toMatch(/^1\n.*Read-only file system/);

  const events = await waitFor("the transition events", async () => {
    const list = await core.listNamespacedEvent({
      namespace: ns.name,
      fieldSelector: "involvedObject.kind=Sandbox,involvedObject.name=hello",
    });
    const reasons = list.items.map((e) => e.reason);
    return reasons.includes("PodCreated") && reasons.includes("Running") ? list.items : undefined;
  });
  expect(events.every((e) => e.source?.component === "soulbox-operator")).toBe(true);
});

test("a pod deleted by hand is recreated once, and the sandbox is Ready again", async () => {
  await sandboxes.create("phoenix", { template: { image: IMAGES.base } });
  const first = await ready("phoenix");
  const before = await core.readNamespacedPod({ name: "phoenix", namespace: ns.name });
  await core.deleteNamespacedPod({ name: "phoenix", namespace: ns.name });
  await waitFor(
    "a new pod",
    async () => {
      const p = await core
        .readNamespacedPod({ name: "phoenix", namespace: ns.name })
        .catch(() => undefined);
      return p && p.metadata?.uid !== before.metadata?.uid ? p : undefined;
    },
    60_000,
  );
  const again = await ready("phoenix");
  const pods = await core.listNamespacedPod({ namespace: ns.name });
  expect(pods.items.map((p) => p.metadata?.name)).toEqual(["phoenix"]);
  expect(again.status?.startedAt).toBe(first.status?.startedAt);
});

test("state Paused freezes every process and Running thaws them (pauseMode Freeze)", async () => {
  await sandboxes.create("ice", { template: { image: IMAGES.base } });
  const sb = await ready("ice");
  const endpoint = sb.status?.envdEndpoint ?? "";
  const token = await tokenOf("ice");
  const sdk = sdkSandboxAt(endpoint, token);
  const ticker = await sdk.commands.run(
    "while true; do date +%s%N >> /tmp/ticks; sleep 0.05; done",
    {
      background: true,
    },
  );
  await sandboxes.patch("ice", { spec: { state: "Paused" } });
  const paused = await waitFor("Paused", async () => {
    const s = await sandboxes.get("ice");
    return s.status?.phase === "Paused" ? s : undefined;
  });
  expect(conditionOf(paused, "Paused")).toMatchObject({ status: "True" });
  const frozenState = await fetch(`${endpoint}/freeze`, { headers: { "x-access-token": token } });
  expect(await frozenState.json()).toEqual({ frozen: true });
  const size = async () => (await sdk.files.read("/tmp/ticks")).length;
  const a = await size();
  await new Promise((r) => setTimeout(r, 500));
  expect(await size()).toBe(a); // nothing ran while frozen

  await sandboxes.patch("ice", { spec: { state: "Running" } });
  await waitFor("Running again", async () => {
    const s = await sandboxes.get("ice");
    return s.status?.phase === "Running" && conditionOf(s, "Paused")?.status === "False"
      ? s
      : undefined;
  });
  await waitFor("ticks again", async () => ((await size()) > a ? true : undefined));
  await ticker.kill();
});

test("a Memory pause without node agents is refused with a condition, and the sandbox keeps running", async () => {
  await sandboxes.create("mem", { template: { image: IMAGES.base }, pauseMode: "Memory" });
  await ready("mem");
  await sandboxes.patch("mem", { spec: { state: "Paused" } });
  const refused = await waitFor("the refusal", async () => {
    const s = await sandboxes.get("mem");
    return conditionOf(s, "Paused")?.reason === "PauseModeNotSupported" ? s : undefined;
  });
  expect(conditionOf(refused, "Paused")?.status).toBe("False");
  expect(conditionOf(refused, "Paused")?.message).toMatch(/pauseMode Memory needs the node agents/);
  expect(refused.status?.phase).toBe("Running");
});

test("at expiresAt onTimeout Delete deletes the Sandbox, and its children go with it", async () => {
  await sandboxes.create("brief", { template: { image: IMAGES.base }, timeoutSeconds: 3 });
  const sb = await ready("brief");
  expect(sb.status?.expiresAt).toBeDefined();
  expect(Date.parse(sb.status?.expiresAt ?? "") - Date.parse(sb.status?.startedAt ?? "")).toBe(
    3000,
  );
  await waitFor(
    "the Sandbox gone",
    async () => ((await sandboxes.getOrUndefined("brief")) ? undefined : true),
    30_000,
  );
});

test("onTimeout Pause pauses at expiresAt; extending the timeout resumes", async () => {
  await sandboxes.create("nap", {
    template: { image: IMAGES.base },
    timeoutSeconds: 2,
    onTimeout: "Pause",
  });
  await ready("nap");
  const expired = await waitFor(
    "Paused by the timeout",
    async () => {
      const s = await sandboxes.get("nap");
      return s.status?.phase === "Paused" ? s : undefined;
    },
    30_000,
  );
  expect(conditionOf(expired, "Expired")?.status).toBe("True");
  const later = new Date(Date.now() + 3600_000).toISOString();
  await sandboxes.patch("nap", { metadata: { annotations: { "soulbox.dev/expires-at": later } } });
  const resumed = await waitFor("Running after the extension", async () => {
    const s = await sandboxes.get("nap");
    return s.status?.phase === "Running" ? s : undefined;
  });
  expect(Date.parse(resumed.status?.expiresAt ?? "")).toBe(Date.parse(later));
  expect(conditionOf(resumed, "Expired")?.status).toBe("False");
});

test("an image that cannot be pulled is reported with the kubelet's reason", async () => {
  await sandboxes.create("nope", { template: { image: "localhost/soulbox/does-not-exist:1" } });
  const sb = await waitFor(
    "the pull failure",
    async () => {
      const s = await sandboxes.get("nope");
      const reason = conditionOf(s, "Ready")?.reason;
      return reason === "ErrImagePull" || reason === "ImagePullBackOff" ? s : undefined;
    },
    60_000,
  );
  expect(conditionOf(sb, "Ready")?.status).toBe("False");
  expect(conditionOf(sb, "Ready")?.message).toMatch(/does-not-exist/);
  expect(conditionOf(sb, "Scheduled")?.status).toBe("True");
});

test("a missing templateRef ConfigMap is a condition, and creating it lets the sandbox start", async () => {
  await sandboxes.create("reffed", { templateRef: "python" });
  const failed = await waitFor("TemplateNotFound", async () => {
    const s = await sandboxes.get("reffed");
    return conditionOf(s, "Ready")?.reason === "TemplateNotFound" ? s : undefined;
  });
  expect(conditionOf(failed, "Ready")?.message).toMatch(/python/);
  expect(await core.listNamespacedPod({ namespace: ns.name })).toMatchObject({ items: [] });
  await core.createNamespacedConfigMap({
    namespace: ns.name,
    body: { metadata: { name: "python" }, data: { template: `image: ${IMAGES.base}\n` } },
  });
  // Nudge instead of waiting for the 30 s retry: any change to the Sandbox reconciles it.
  await sandboxes.patch("reffed", { metadata: { annotations: { nudge: "1" } } });
  await ready("reffed");
});

/** Reconciles of Sandboxes the controller finished so far (successful or not). */
async function reconcileCount(): Promise<number> {
  const { values } = await metrics.reconciles.get();
  return values.filter((v) => v.labels.kind === "Sandbox").reduce((n, v) => n + v.value, 0);
}

const resourceVersion = (o: k8s.KubernetesObject) => o.metadata?.resourceVersion;

test("20 reconciles of a Ready sandbox change nothing: no status write, no child write", async () => {
  await sandboxes.create("steady", { template: { image: IMAGES.base } });
  const sb = await ready("steady");
  const read = () =>
    Promise.all([
      core.readNamespacedSecret({ name: "steady-envd", namespace: ns.name }),
      net.readNamespacedNetworkPolicy({ name: "steady", namespace: ns.name }),
    ]);
  const children = (await read()).map(resourceVersion);
  let last: Sandbox | undefined;
  for (let i = 0; i < 20; i++) {
    const before = await reconcileCount();
    last = await sandboxes.patch("steady", { metadata: { annotations: { poke: String(i) } } });
    // Each poke is seen: the controller finished a reconcile after it.
    await waitFor(`a reconcile after poke ${i}`, async () =>
      (await reconcileCount()) > before ? true : undefined,
    );
  }
  const after = await sandboxes.get("steady");
  // A status write that changed anything would have moved the resourceVersion past our poke's.
  expect(resourceVersion(after)).toBe(resourceVersion(last ?? after));
  expect((await read()).map(resourceVersion)).toEqual(children);
  const types = after.status?.conditions?.map((c) => c.type) ?? [];
  expect(new Set(types).size).toBe(types.length);
  expect(after.status?.conditions).toEqual(sb.status?.conditions);
});

test("a hand-edited NetworkPolicy (egress opened) and pod labels are put back by the operator", async () => {
  await sandboxes.create("guarded", {
    template: { image: IMAGES.base },
    metadata: { purpose: "test" },
  });
  await ready("guarded");
  const policy = await net.readNamespacedNetworkPolicy({ name: "guarded", namespace: ns.name });
  const pod = await core.readNamespacedPod({ name: "guarded", namespace: ns.name });
  const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

  // As `kubectl edit` would: an egress rule with no peers allows everything.
  await net.patchNamespacedNetworkPolicy(
    {
      name: "guarded",
      namespace: ns.name,
      body: [{ op: "add", path: "/spec/egress/-", value: {} }],
    },
    jsonPatch,
  );
  await core.patchNamespacedPod(
    {
      name: "guarded",
      namespace: ns.name,
      body: [
        { op: "replace", path: "/metadata/labels/purpose", value: "mining" },
        { op: "remove", path: "/metadata/labels/soulbox.dev~1sandbox" },
      ],
    },
    jsonPatch,
  );

  await waitFor("the NetworkPolicy put back", async () => {
    const p = await net.readNamespacedNetworkPolicy({ name: "guarded", namespace: ns.name });
    return isDeepStrictEqual(p.spec, policy.spec) ? true : undefined;
  });
  await waitFor("the pod labels put back", async () => {
    const p = await core.readNamespacedPod({ name: "guarded", namespace: ns.name });
    return isDeepStrictEqual(p.metadata?.labels, pod.metadata?.labels) ? true : undefined;
  });
  const again = await core.readNamespacedPod({ name: "guarded", namespace: ns.name });
  expect(again.metadata?.uid).toBe(pod.metadata?.uid); // repaired in place, not replaced
  const events = await waitFor("the DriftRepaired events", async () => {
    const list = await core.listNamespacedEvent({
      namespace: ns.name,
      fieldSelector: "involvedObject.kind=Sandbox,involvedObject.name=guarded",
    });
    const repairs = list.items.filter((e) => e.reason === "DriftRepaired");
    return repairs.length >= 2 ? repairs : undefined;
  });
  expect(events.every((e) => e.type === "Warning")).toBe(true);
  expect(events.map((e) => e.message).join("\n")).toMatch(/NetworkPolicy guarded .*spec\.egress/);
  expect((await sandboxes.get("guarded")).status?.phase).toBe("Running");
});

test("Sandboxes of another namespace are not touched by a namespaced controller", async () => {
  const other = await testNamespace(kc, "other");
  try {
    await sandboxApi(kc, other.name).create("elsewhere", { template: { image: IMAGES.base } });
    await sandboxes.create("here", { template: { image: IMAGES.base } });
    await ready("here");
    const theirs: Sandbox = await sandboxApi(kc, other.name).get("elsewhere");
    expect(theirs.status).toBeUndefined();
    expect((await core.listNamespacedPod({ namespace: other.name })).items).toEqual([]);
  } finally {
    await other.dispose();
  }
});
