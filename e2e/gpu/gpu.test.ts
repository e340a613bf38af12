/**
 * GPUs end to end on the run's real node: SoulBox's device plugin (dist/gpu-plugin.mjs, a
 * process this file starts) with a fake inventory of 8 GPUs on 2 NUMA nodes registers with the
 * real kubelet over the real device-plugin API; the Sandbox and GpuAllocation controllers run in
 * this process (scoped to one namespace). Only the inventory is fake: device nodes are made with
 * mknod, and the kubelet calls the plugin's GetPreferredAllocation and Allocate for real.
 *
 * The shared test cluster's kubelet runs with the Topology Manager off (policy none: this
 * machine has one NUMA node, see e2e/cluster/lib/gpu.sh), so sameNuma is enforced here by the
 * operator's placement and the plugin's preferred allocation, which the kubelet follows.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import {
  GpuAllocationResource,
  type GpuAllocation,
  type SandboxSpec,
} from "../../api/gen/crd-types.js";
import { withApiServerExclusive } from "../cluster/test-support/api-server-lock.js";
import { DEFAULT_PLUGIN_DIR, KUBELET_SOCKET } from "../../gpu/src/api.js";
import { INVENTORY_ANNOTATION, parseInventoryAnnotation } from "../../api/gpu.js";
import { createLogger } from "../../lib/log.js";
import { stopChild } from "../../lib/stop-child.js";
import { createOperatorMetrics } from "../../operator/src/metrics.js";
import {
  startSandboxController,
  type SandboxController,
} from "../../operator/src/controller/sandbox-controller.js";
import {
  IMAGES,
  conditionOf,
  installCrds,
  sandboxApi,
} from "../../operator/test-support/operator.js";
import { fakeUuid } from "../../gpu/src/fake-inventory.js";
import {
  clusterCommand,
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  RESTART_TEST_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { sdkSandboxAt } from "../envd-sdk/sandbox.js";

const NODE = "soulbox-node";
const GPU_ALLOCATIONS = {
  group: GpuAllocationResource.group,
  version: GpuAllocationResource.version,
  plural: GpuAllocationResource.plural,
};
const PLUGIN = new URL("../../dist/gpu-plugin.mjs", import.meta.url).pathname;
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let ns: { name: string; dispose(): Promise<void> };
let sandboxes: ReturnType<typeof sandboxApi>;
let controller: SandboxController;
let plugin: ChildProcess;
let pluginLog = "";
let inventory: string;

const registrations = () =>
  pluginLog.split("\n").filter((l) => l.includes('"registered with the kubelet"')).length;

async function allocation(name: string): Promise<GpuAllocation | undefined> {
  return (
    custom.getNamespacedCustomObject({
      group: GpuAllocationResource.group,
      version: GpuAllocationResource.version,
      plural: GpuAllocationResource.plural,
      namespace: ns.name,
      name,
    }) as Promise<GpuAllocation>
  ).catch((err: unknown) => {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  });
}

const inPhase = (name: string, phase: string, ms = 60_000) =>
  waitFor(
    `GpuAllocation ${name} ${phase}`,
    async () => {
      const a = await allocation(name);
      return a?.status?.phase === phase ? a : undefined;
    },
    ms,
  );

const gpuCapacity = async () => {
  const node = await core.readNode({ name: NODE });
  return {
    capacity: node.status?.capacity?.["nvidia.com/gpu"],
    allocatable: node.status?.allocatable?.["nvidia.com/gpu"],
  };
};

async function tokenOf(name: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name: `${name}-envd`, namespace: ns.name });
  return Buffer.from(secret.data?.token ?? "", "base64").toString("utf8");
}

const gpuSandbox = (gpu: SandboxSpec["gpu"]): SandboxSpec => ({
  template: { image: IMAGES.base },
  gpu,
});

/**
 * Whether the kubelet's device-plugin socket answers. Its path is fixed by the kubelet
 * (/var/lib/kubelet/device-plugins/kubelet.sock, not under --root-dir), so a second cluster's
 * kubelet (network.test.ts starts one) replaces it, and once that one is down nothing listens.
 */
function kubeletSocketAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(join(DEFAULT_PLUGIN_DIR, KUBELET_SOCKET));
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

beforeAll(async () => {
  await ensureNode();
  installCrds();
  // The restart makes this run's kubelet listen there again; it waits for other test files.
  if (!(await kubeletSocketAnswers()))
    await withApiServerExclusive(() => clusterCommand(["restart", "kubelet"]));
  inventory = await mkdtemp(join(tmpdir(), "soulbox-fake-gpus-"));
  plugin = spawn(
    process.execPath,
    [
      PLUGIN,
      "--fake-inventory",
      inventory,
      "--fake-gpus",
      "8",
      "--node-name",
      NODE,
      "--health-interval-ms",
      "500",
    ],
    { env: process.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  plugin.stdout?.on("data", (b: Buffer) => (pluginLog += b.toString()));
  plugin.stderr?.on("data", (b: Buffer) => (pluginLog += b.toString()));
  ns = await testNamespace(kc, "gpu");
  sandboxes = sandboxApi(kc, ns.name);
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    gpus: true,
    log: createLogger("warn", {}, () => undefined),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc" },
  });
  await controller.synced;
}, RESTART_TEST_TIMEOUT_MS);

afterAll(async () => {
  await controller?.stop();
  await ns?.dispose();
  if (plugin) await stopChild(plugin);
  if (inventory) await rm(inventory, { recursive: true, force: true });
});

test("the node advertises 8 GPUs, and the plugin publishes them with NUMA nodes 0 and 1", async () => {
  await waitFor(
    "nvidia.com/gpu: 8",
    async () => ((await gpuCapacity()).allocatable === "8" ? true : undefined),
    60_000,
  );
  expect(await gpuCapacity()).toEqual({ capacity: "8", allocatable: "8" });
  const node = await core.readNode({ name: NODE });
  const published = parseInventoryAnnotation(node.metadata?.annotations?.[INVENTORY_ANNOTATION]);
  expect(published.map((d) => [d.uuid, d.numaNode, d.healthy])).toEqual(
    Array.from({ length: 8 }, (_, i) => [fakeUuid(i), i < 4 ? 0 : 1, true]),
  );
});

test("the devices of a Bound GpuAllocation are the ones the kubelet gives its pod (the plugin prefers them)", async () => {
  // Made by hand in a namespace the controller does not watch, so its status stays as written:
  // GPUs 5 and 7, where the plugin's own choice for 2 of 8 free would be 0 and 1.
  const other = await testNamespace(kc, "gpupin");
  try {
    const ref = { ...GPU_ALLOCATIONS, namespace: other.name };
    const created = (await custom.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: GpuAllocationResource.apiVersion,
        kind: GpuAllocationResource.kind,
        metadata: { name: "pinned" },
        spec: { sandbox: "pinned", count: 2 },
      },
    })) as GpuAllocation;
    const pinned = [fakeUuid(5), fakeUuid(7)];
    await custom.replaceNamespacedCustomObjectStatus({
      ...ref,
      name: "pinned",
      body: {
        ...created,
        status: {
          phase: "Bound",
          node: NODE,
          deviceIds: pinned,
          conditions: [
            {
              type: "Bound",
              status: "True",
              reason: "Bound",
              message: "by hand",
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        },
      },
    });
    await waitFor("the plugin sees the bound set", async () =>
      pluginLog
        .split("\n")
        .some((l) => l.includes("device sets bound here changed") && l.includes(pinned.join('","')))
        ? true
        : undefined,
    );
    await core.createNamespacedPod({
      namespace: other.name,
      body: {
        metadata: { name: "gpu-pod" },
        spec: {
          runtimeClassName: "runc",
          restartPolicy: "Never",
          containers: [
            {
              name: "c",
              image: "localhost/soulbox/busybox:latest",

              imagePullPolicy: "Never",
              command: [
                "/bin/busybox",
                "sh",
                "-c",
                'echo "$NVIDIA_VISIBLE_DEVICES"; ls /dev | grep nvidia',
              ],
              resources: { limits: { "nvidia.com/gpu": "2" } },
            },
          ],
        },
      },
    });
    await waitFor(
      "gpu-pod Succeeded",
      async () => {
        const p = await core.readNamespacedPod({ name: "gpu-pod", namespace: other.name });
        return p.status?.phase === "Succeeded" ? true : undefined;
      },
      60_000,
    );
    const logs = await core.readNamespacedPodLog({
      name: "gpu-pod",
      namespace: other.name,
      container: "c",
    });
    expect(logs).toBe(`${pinned.join(",")}\nnvidia5\nnvidia7\nnvidiactl\n`);
  } finally {
    // Its reservation counts for placement until it is gone: the next tests need all 8.
    const ref = { ...GPU_ALLOCATIONS, namespace: other.name, name: "pinned" };
    await custom.deleteNamespacedCustomObject(ref).catch(() => undefined);
    await waitFor("the pinned allocation gone", () =>
      custom.getNamespacedCustomObject(ref).then(
        () => undefined,
        () => true,
      ),
    );
    await other.dispose();
  }
});

test("a sandbox asking for 2 GPUs with sameNuma gets two on one NUMA node, and its container sees exactly those", async () => {
  await sandboxes.create("two", gpuSandbox({ count: 2, sameNuma: true }));
  const a = await inPhase("two", "Bound");
  expect(a.spec).toMatchObject({ sandbox: "two", count: 2, numaPolicy: "SingleNUMA" });
  expect(a.status?.node).toBe(NODE);
  expect(a.status?.devices).toEqual([
    { uuid: fakeUuid(0), index: 0, numaNode: 0 },
    { uuid: fakeUuid(1), index: 1, numaNode: 0 },
  ]);
  const sb = await waitFor(
    "sandbox two Ready",
    async () => {
      const s = await sandboxes.get("two");
      return conditionOf(s, "Ready")?.status === "True" ? s : undefined;
    },
    120_000,
  );
  const pod = await core.readNamespacedPod({ name: "two", namespace: ns.name });
  expect(
    pod.spec?.containers.find((c) => c.name === "sandbox")?.resources?.limits?.["nvidia.com/gpu"],
  ).toBe("2");
  const sdk = sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf("two"));
  const run = await sdk.commands.run(
    'echo "$NVIDIA_VISIBLE_DEVICES"; ls /dev | grep nvidia; stat -c %t:%T /dev/nvidia1',
  );
  expect(run.stdout).toBe(`${fakeUuid(0)},${fakeUuid(1)}\nnvidia0\nnvidia1\nnvidiactl\nc3:1\n`);
});

test("a request that cannot fit now stays Pending with the reason; a bad product fails and makes no pod", async () => {
  // NUMA node 1 (4 free) takes 4; NUMA node 0 has 2 left, so 3 on one NUMA node cannot fit.
  await sandboxes.create("four", gpuSandbox({ count: 4, sameNuma: true }));
  expect((await inPhase("four", "Bound")).status?.devices?.map((d) => d.numaNode)).toEqual([
    1, 1, 1, 1,
  ]);
  await sandboxes.create("three", gpuSandbox({ count: 3, sameNuma: true }));
  const pending = await waitFor("GpuAllocation three Pending with a reason", async () => {
    const a = await allocation("three");
    return a?.status?.phase === "Pending" && a.status.conditions?.length ? a : undefined;
  });
  expect(pending.status?.conditions?.[0]).toMatchObject({
    type: "Bound",
    status: "False",
    reason: "InsufficientFreeGpus",
    message: "no node has 3 free GPUs on one NUMA node (soulbox-node: 2 free on NUMA node 0)",
  });
  // The Sandbox first says it waits for a placement, then (its next reconcile) why there is none.
  const sb = await waitFor("sandbox three says why it waits", async () => {
    const s = await sandboxes.get("three");
    const scheduled = conditionOf(s, "Scheduled");
    return scheduled?.reason === "WaitingForGpus" && scheduled.message?.includes("no node has")
      ? s
      : undefined;
  });
  expect(conditionOf(sb, "Scheduled")?.message).toContain(
    "no node has 3 free GPUs on one NUMA node",
  );
  expect(
    await core.readNamespacedPod({ name: "three", namespace: ns.name }).catch(() => undefined),
  ).toBeUndefined();

  await sandboxes.create("nosuch", gpuSandbox({ count: 1, product: "NVIDIA-A100-SXM4-40GB" }));
  const failed = await inPhase("nosuch", "Failed");
  expect(failed.status?.conditions?.[0]).toMatchObject({
    reason: "UnknownProduct",
    message:
      "no node has GPUs of product NVIDIA-A100-SXM4-40GB (the nodes have NVIDIA-H100-80GB-HBM3)",
  });
  await waitFor("sandbox nosuch Failed", async () =>
    (await sandboxes.get("nosuch")).status?.phase === "Failed" ? true : undefined,
  );
  expect(
    await core.readNamespacedPod({ name: "nosuch", namespace: ns.name }).catch(() => undefined),
  ).toBeUndefined();
  await sandboxes.delete("nosuch");
});

test.each([
  [0, "spec.gpu.count in body should be greater than or equal to 1"],
  [17, "spec.gpu.count in body should be less than or equal to 16"],
])("count %p is refused with a clear error and changes nothing", async (count, message) => {
  await expect(sandboxes.create(`bad-${count}`, gpuSandbox({ count }))).rejects.toThrow(message);
  expect(await sandboxes.getOrUndefined(`bad-${count}`)).toBeUndefined();
  expect(await allocation(`bad-${count}`)).toBeUndefined();
});

test("an unhealthy device is no longer allocatable and is skipped", async () => {
  // GPU 2 (NUMA node 0, free) reports errors: the kubelet's allocatable drops, placement skips it.
  await writeFile(join(inventory, "unhealthy"), `${fakeUuid(2)} XID 79\n`);
  await waitFor(
    "allocatable 7",
    async () => ((await gpuCapacity()).allocatable === "7" ? true : undefined),
    60_000,
  );
  await sandboxes.create("one", gpuSandbox({ count: 1 }));
  const a = await inPhase("one", "Bound");
  expect(a.status?.deviceIds).toEqual([fakeUuid(3)]);
  await sandboxes.delete("one");
  await writeFile(join(inventory, "unhealthy"), "");
  await waitFor(
    "allocatable 8",
    async () => ((await gpuCapacity()).allocatable === "8" ? true : undefined),
    60_000,
  );
});

test(
  "a kubelet restart makes the plugin register again, and the GPUs stay advertised",
  async () => {
    const before = registrations();
    // Restarted pods' readiness starts over, and Services drop their endpoints meanwhile: wait
    // until no other test file is using the cluster (the API server restarts' lock), keep them out.
    await withApiServerExclusive(() => clusterCommand(["restart", "kubelet"]));
    await waitFor(
      "a new registration",
      async () => (registrations() > before ? true : undefined),
      60_000,
    );
    await waitFor(
      "allocatable 8 again",
      async () => ((await gpuCapacity()).allocatable === "8" ? true : undefined),
      60_000,
    );
  },
  RESTART_TEST_TIMEOUT_MS,
);

test("deleting a sandbox frees its GPUs: the waiting request is placed on them", async () => {
  await sandboxes.delete("two");
  await waitFor(
    "GpuAllocation two gone",
    async () => ((await allocation("two")) ? undefined : true),
    60_000,
  );
  const a = await inPhase("three", "Bound", 60_000);
  expect(a.status?.devices?.map((d) => d.index)).toEqual([0, 1, 2]);
  expect(new Set(a.status?.devices?.map((d) => d.numaNode))).toEqual(new Set([0]));
  // Bound only once pod two was gone (the kubelet frees its GPUs then), so the kubelet gives
  // sandbox three exactly the allocation's devices.
  const sb = await waitFor(
    "sandbox three Ready",
    async () => {
      const s = await sandboxes.get("three");
      return conditionOf(s, "Ready")?.status === "True" ? s : undefined;
    },
    120_000,
  );
  const sdk = sdkSandboxAt(sb.status?.envdEndpoint ?? "", await tokenOf("three"));
  const run = await sdk.commands.run('echo "$NVIDIA_VISIBLE_DEVICES"');
  expect(run.stdout).toBe(`${[0, 1, 2].map(fakeUuid).join(",")}\n`);
});
