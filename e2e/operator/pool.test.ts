/**
 * SandboxPools against the real API server and node: the pool keeps real pods Ready, a Sandbox
 * takes one and envd there answers to the Sandbox's token (and no longer to the pool's) with
 * the Sandbox's env vars, three Sandboxes at once on a pool of two get two distinct pods and
 * one cold start, and a taken pod never goes back to the pool. The controller runs in the test
 * process, scoped to the test's namespace, as in sandbox-controller.test.ts.
 */
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
import {
  SandboxPoolResource,
  type SandboxPool,
  type SandboxPoolSpec,
} from "../../api/gen/crd-types.js";
import { Label } from "../../api/labels.js";
import { poolTokenSecretName } from "../../api/envd.js";
import { createLogger } from "../../lib/log.js";
import { createOperatorMetrics } from "../../operator/src/metrics.js";
import {
  startSandboxController,
  type SandboxController,
} from "../../operator/src/controller/sandbox-controller.js";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let ns: { name: string; dispose(): Promise<void> };
let controller: SandboxController;
let sandboxes: ReturnType<typeof sandboxApi>;

beforeAll(() => installCrds());
beforeEach(async () => {
  ns = await testNamespace(kc, "pool");
  sandboxes = sandboxApi(kc, ns.name);
  await core.createNamespacedConfigMap({
    namespace: ns.name,
    body: { metadata: { name: "base" }, data: { template: `image: ${IMAGES.base}\n` } },
  });
  controller = startSandboxController({
    kubeConfig: kc,
    namespace: ns.name,
    log: createLogger("error", {}, () => undefined),
    metrics: createOperatorMetrics(),
    settings: { envdImage: IMAGES.envd, defaultRuntimeClassName: "runc", kitVolume: "image" },
  });
  await controller.synced;
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await controller.stop();
  await ns.dispose();
});

const poolRef = () => ({ ...SandboxPoolResource, namespace: ns.name });

async function createPool(name: string, spec: SandboxPoolSpec) {
  await custom.createNamespacedCustomObject({
    group: SandboxPoolResource.group,
    version: SandboxPoolResource.version,
    plural: SandboxPoolResource.plural,
    namespace: ns.name,
    body: {
      apiVersion: SandboxPoolResource.apiVersion,
      kind: SandboxPoolResource.kind,
      metadata: { name },
      spec,
    },
  });
}

const poolStatus = async (name: string) =>
  (
    (await custom.getNamespacedCustomObject({
      group: poolRef().group,
      version: poolRef().version,
      plural: poolRef().plural,
      namespace: ns.name,
      name,
    })) as SandboxPool
  ).status;

const poolReady = (name: string, count: number) =>
  waitFor(
    `pool ${name} with ${count} ready pods`,
    async () => ((await poolStatus(name))?.ready === count ? true : undefined),
    120_000,
  );

const sandboxReady = (name: string) =>
  waitFor(
    `sandbox ${name} Ready`,
    async () => {
      const sb = await sandboxes.get(name);
      return conditionOf(sb, "Ready")?.status === "True" ? sb : undefined;
    },
    120_000,
  );

async function secretToken(name: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name, namespace: ns.name });
  return Buffer.from(secret.data?.token ?? "", "base64").toString("utf8");
}

test("a Sandbox takes a ready pod: envd answers to its token and env, not the pool's; the pool refills", async () => {
  await createPool("base", { templateRef: "base", minReady: 2 });
  await poolReady("base", 2);
  await core.createNamespacedSecret({
    namespace: ns.name,
    body: { metadata: { name: "env" }, stringData: { GREETING: "warm hello" } },
  });
  await sandboxes.create("warm", {
    templateRef: "base",
    envFrom: [{ secretRef: { name: "env" } }],
  });
  const sb = await sandboxReady("warm");
  expect(sb.status?.pool).toBe("base");
  expect(sb.status?.podName).toMatch(/^base-p-/);
  const pod = await core.readNamespacedPod({ name: sb.status?.podName ?? "", namespace: ns.name });
  expect(pod.metadata?.ownerReferences).toEqual([
    expect.objectContaining({ kind: "Sandbox", name: "warm", controller: true }),
  ]);
  expect(pod.metadata?.labels).toMatchObject({ [Label.sandbox]: "warm", [Label.pool]: "base" });

  const endpoint = sb.status?.envdEndpoint ?? "";
  const poolToken = await secretToken(poolTokenSecretName("base"));
  const stale = await fetch(`${endpoint}/envs`, { headers: { "x-access-token": poolToken } });
  expect(stale.status).toBe(401);
  await stale.body?.cancel();
  const sdk = sdkSandboxAt(endpoint, await secretToken("warm-envd"));
  const run = await sdk.commands.run("echo $GREETING from $(whoami)");
  expect(run.stdout).toBe("warm hello from user\n");

  await poolReady("base", 2); // a new pod for the one taken
  const pods = await core.listNamespacedPod({
    namespace: ns.name,
    labelSelector: `${Label.pool}=base,${Label.component}=pool-pod`,
  });
  expect(pods.items.map((p) => p.metadata?.name)).not.toContain(pod.metadata?.name);
}, 300_000);

test("three Sandboxes at once on a pool of two: two distinct warm pods and one cold start", async () => {
  await createPool("duo", { templateRef: "base", minReady: 2 });
  await poolReady("duo", 2);
  await Promise.all(["a", "b", "c"].map((n) => sandboxes.create(n, { templateRef: "base" })));
  const ready = await Promise.all(["a", "b", "c"].map((n) => sandboxReady(n)));
  const warm = ready.filter((s) => s.status?.pool === "duo");
  expect(warm).toHaveLength(2);
  expect(new Set(warm.map((s) => s.status?.podName)).size).toBe(2);
  const cold = ready.find((s) => !s.status?.pool);
  expect(cold?.status?.podName).toBe(cold?.metadata.name);
}, 300_000);
