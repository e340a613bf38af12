/**
 * The local node is a real one: kubelet + containerd + runc + a CNI bridge,
 * running pods from the locally built sandbox base image (no registry). A pod
 * runs, its logs come back through the API, exec reaches it through the API,
 * and deleting it removes its containers from containerd. A running container
 * is checkpointed through the kubelet checkpoint API (containerd -> runc -> CRIU 4).
 *
 * The node is brought up here (`cluster up --with-node` is idempotent: it adds
 * the node to the run's control plane, or finds it already there).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import {
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "./test-support/cluster.js";

const BIN = fileURLToPath(new URL("./.bin/", import.meta.url));
const NODE = "soulbox-node";
const BASE_IMAGE = "localhost/soulbox/sandbox-base:latest";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns: { name: string; dispose(): Promise<void> };

function stateDir(): string {
  const dir = process.env.SOULBOX_CLUSTER_DIR;
  if (!dir)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the node tests need jest's global setup");
  return dir;
}

function kubectl(args: string[]): string {
  return execFileSync(join(BIN, "kubectl"), args, {
    encoding: "utf8",
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Containers containerd holds for a pod (sandbox and app containers), by the kubelet's pod-uid label. */
function containerdContainersOf(podUid: string): string[] {
  const out = execFileSync(
    join(BIN, "ctr"),
    [
      "--address",
      join(stateDir(), "containerd", "containerd.sock"),
      "--namespace",
      "k8s.io",
      "containers",
      "ls",
      "-q",
      `labels."io.kubernetes.pod.uid"==${podUid}`,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  return out.split("\n").filter((l) => l.trim() !== "");
}

beforeAll(() => ensureNode(), 20 * 60_000);

beforeEach(async () => {
  ns = await testNamespace(kc, "node");
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
});

test("the node is Ready and offers the kata and runc RuntimeClasses", async () => {
  const node = await core.readNode({ name: NODE });
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  expect(ready?.status).toBe("True");
  const nodeApi = kc.makeApiClient(k8s.NodeV1Api);
  for (const name of ["kata", "runc"]) {
    const rc = await nodeApi.readRuntimeClass({ name });
    expect(rc.handler).toBe("runc");
  }
});

test("a pod of the sandbox base image runs, logs, execs, and leaves nothing in containerd when deleted", async () => {
  const name = "base";
  const pod: k8s.V1Pod = {
    metadata: { name },
    spec: {
      runtimeClassName: "kata",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          image: BASE_IMAGE,
          imagePullPolicy: "Never",
          command: [
            "bash",
            "-c",
            'echo "hello from $(hostname)"; python --version; trap "exit 0" TERM; sleep 3600 & wait',
          ],
        },
      ],
    },
  };
  // The namespace's default ServiceAccount is made by the controller-manager, moments after the namespace.
  await waitFor("pod created", () =>
    core.createNamespacedPod({ namespace: ns.name, body: pod }).then(() => true),
  );
  const running = await waitFor(
    "pod Running",
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns.name });
      return p.status?.phase === "Running" || p.status?.phase === "Failed" ? p : undefined;
    },
    120_000,
  );
  expect({ phase: running.status?.phase, status: running.status }).toMatchObject({
    phase: "Running",
  });
  expect(running.spec?.nodeName).toBe(NODE);
  expect(running.status?.podIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
  const uid = running.metadata!.uid!;

  const logs = await waitFor("pod logs", async () => {
    const l = await core.readNamespacedPodLog({ name, namespace: ns.name, container: "main" });
    return /Python 3\./.test(l) ? l : undefined;
  });
  expect(logs).toContain(`hello from ${name}`);

  // exec through the API server (kubectl exec -> apiserver -> kubelet -> containerd's stream server).
  const out = kubectl([
    "exec",
    "-n",
    ns.name,
    name,
    "-c",
    "main",
    "--",
    "bash",
    "-c",
    "id -un user; getent passwd user | cut -d: -f6; sudo -n -u user bash -lc umask; tput -T xterm cols; git --version; curl --version | head -1; sudo -n -u user sudo -n true && echo sudo-ok",
  ]);
  const lines = out.trim().split("\n");
  expect(lines[0]).toBe("user");
  expect(lines[1]).toBe("/home/user");
  expect(lines[2]).toBe("0022");
  expect(lines[3]).toMatch(/^\d+$/);
  expect(out).toMatch(/git version 2\./);
  expect(out).toMatch(/^curl \d/m);
  expect(out).toContain("sudo-ok");

  expect(containerdContainersOf(uid).length).toBeGreaterThanOrEqual(2); // sandbox + main
  await core.deleteNamespacedPod({ name, namespace: ns.name });
  await waitFor(
    "pod gone from the API",
    async () =>
      core.readNamespacedPod({ name, namespace: ns.name }).then(
        () => undefined,
        (e: unknown) => (e instanceof k8s.ApiException && e.code === 404 ? true : undefined),
      ),
    60_000,
  );
  // The kubelet removes a deleted pod's containers and sandbox (its container GC runs every minute).
  await waitFor(
    "containers gone from containerd",
    async () => (containerdContainersOf(uid).length === 0 ? true : undefined),
    150_000,
  );
}, 300_000);

test("the kubelet checkpoint API checkpoints a running container (containerd, runc, CRIU)", async () => {
  const name = "counter";
  await waitFor("pod created", () =>
    core
      .createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name },
          spec: {
            runtimeClassName: "kata",
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "main",
                image: BASE_IMAGE,
                imagePullPolicy: "Never",
                command: ["bash", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"],
              },
            ],
          },
        },
      })
      .then(() => true),
  );
  await waitFor(
    "pod Running",
    async () =>
      (await core.readNamespacedPod({ name, namespace: ns.name })).status?.phase === "Running"
        ? true
        : undefined,
    120_000,
  );
  // POST /api/v1/nodes/{node}/proxy/checkpoint/{ns}/{pod}/{container}: apiserver -> kubelet -> CRI.
  const reply = kubectl([
    "create",
    "--raw",
    `/api/v1/nodes/${NODE}/proxy/checkpoint/${ns.name}/${name}/main`,
    "-f",
    "/dev/null",
  ]);
  const items = (JSON.parse(reply) as { items: string[] }).items;
  expect(items).toHaveLength(1);
  const archive = items[0] ?? "";
  expect(archive.startsWith(join(stateDir(), "node", "kubelet", "checkpoints") + "/")).toBe(true);
  expect(existsSync(archive)).toBe(true);
  const entries = execFileSync("tar", ["-tf", archive], { encoding: "utf8" }).split("\n");
  expect(entries).toContain("checkpoint/inventory.img"); // CRIU's image set
  expect(entries).toContain("config.dump");
  // The checkpoint leaves the container running.
  const pod = await core.readNamespacedPod({ name, namespace: ns.name });
  expect(pod.status?.phase).toBe("Running");
  expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
}, 180_000);
