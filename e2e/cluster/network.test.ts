/**
 * The local cluster's service network: pods reach the API server through the `kubernetes`
 * Service with their ServiceAccount's projected token (RBAC decides: 200 with a Role, 403
 * without), pods reach each other through ClusterIP Services (kube-proxy, iptables mode), and the
 * host reaches pod IPs and ClusterIPs. kube-proxy keeps its rules in a network namespace of the
 * cluster's own, so a second cluster on the same machine neither sees nor disturbs them, and its
 * `down` removes its namespace, route and rules and leaves the host's chains as they were.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import {
  clusterCommand,
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  RESTART_TEST_TIMEOUT_MS,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "./test-support/cluster.js";
import { withApiServerExclusive } from "./test-support/api-server-lock.js";

const BIN = fileURLToPath(new URL("./.bin/", import.meta.url));
const BASE_IMAGE = "localhost/soulbox/sandbox-base:latest";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
let ns: { name: string; dispose(): Promise<void> };

function stateDir(): string {
  const dir = process.env.SOULBOX_CLUSTER_DIR;
  if (!dir)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the network tests need jest's global setup");
  return dir;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** What `cluster status` says about a cluster's network. */
function networkOf(env: NodeJS.ProcessEnv): { services: string; netns: string; link: string } {
  const out = clusterCommand(["status"], env).stdout;
  const m = /^network: pods \S+ on bridge sbx(\w+), services (\S+) in netns (\S+),/m.exec(out);
  if (!m) throw new Error(`cluster status says nothing about the network:\n${out}`);
  return { link: `sbxs${m[1]}`, services: m[2]!, netns: m[3]! };
}

/**
 * Names of the KUBE-* chains in the host's own (iptables) tables, but for the first cluster's
 * NetworkPolicy engine (kube-router: KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*), whose chains
 * follow that cluster's pods as other test files start and stop them.
 */
function hostKubeChains(): string[] {
  return run("iptables-save", [])
    .split("\n")
    .filter((l) => l.startsWith(":KUBE-") && !/^:KUBE-(ROUTER-|POD-FW-|NWPLCY-)/.test(l))
    .map((l) => l.slice(1).split(" ")[0]!)
    .sort();
}

/**
 * `curl` from the host; prints the HTTP status (000 when no connection or TLS failed). A
 * connection that times out is tried twice more: on this 2-core machine a cluster going down
 * beside a loaded test run can stall one attempt past 5 s. `-S` puts curl's reason (timeout,
 * refused) into the error when all attempts fail.
 */
function hostCurl(url: string, extra: string[] = []): string {
  return run("curl", [
    "-sS",
    "--retry",
    "2",
    "--retry-connrefused",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--max-time",
    "5",
    ...extra,
    url,
  ]);
}

/** A pod of the base image running `script` once; resolves to its log when it has finished. */
async function runPod(name: string, script: string, spec: Partial<k8s.V1PodSpec> = {}) {
  const body: k8s.V1Pod = {
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "main",
          image: BASE_IMAGE,
          imagePullPolicy: "Never",
          command: ["bash", "-c", script],
        },
      ],
      ...spec,
    },
  };
  // The namespace's ServiceAccounts (and its default one) are made moments after it.
  await waitFor("pod created", () =>
    core.createNamespacedPod({ namespace: ns.name, body }).then(() => true),
  );
  const phase = await waitFor(
    `pod ${name} finished`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns.name });
      const ph = p.status?.phase;
      return ph === "Succeeded" || ph === "Failed" ? ph : undefined;
    },
    120_000,
  );
  const log = await core.readNamespacedPodLog({ name, namespace: ns.name, container: "main" });
  return { phase, log };
}

beforeAll(() => ensureNode(), 20 * 60_000);

beforeEach(async () => {
  ns = await testNamespace(kc, "net");
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
});

test("a pod calls the API server through the kubernetes Service with its ServiceAccount: 200 with a Role, 403 without", async () => {
  const apiIP = (await core.readNamespacedService({ name: "kubernetes", namespace: "default" }))
    .spec?.clusterIP;
  expect(apiIP).toMatch(/^10\.\d+\.0\.1$/);
  // The Service's endpoint is an address pods can reach (not loopback).
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: "default",
    labelSelector: "kubernetes.io/service-name=kubernetes",
  });
  const endpoint = slices.items[0]?.endpoints?.[0]?.addresses[0];
  expect(endpoint).toMatch(/^10\./);

  for (const sa of ["reader", "nobody"])
    await core.createNamespacedServiceAccount({
      namespace: ns.name,
      body: { metadata: { name: sa } },
    });
  await rbac.createNamespacedRole({
    namespace: ns.name,
    body: {
      metadata: { name: "pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns.name,
    body: {
      metadata: { name: "reader-reads-pods" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns.name }],
    },
  });

  // By the Service's IP from the kubelet's environment, and by the name the certificate carries.
  const script = `
    NS=$(cat ${SA_DIR}/namespace); T=$(cat ${SA_DIR}/token)
    echo "service=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
    for base in "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" https://kubernetes.default.svc; do
      curl -s -o /dev/null -w "code=%{http_code}\\n" --max-time 10 --cacert ${SA_DIR}/ca.crt \\
        --resolve "kubernetes.default.svc:443:$KUBERNETES_SERVICE_HOST" \\
        -H "Authorization: Bearer $T" "$base/api/v1/namespaces/$NS/pods"
    done`;
  const [allowed, denied] = await Promise.all([
    runPod("reader", script, { serviceAccountName: "reader" }),
    runPod("nobody", script, { serviceAccountName: "nobody" }),
  ]);
  expect(allowed).toEqual({
    phase: "Succeeded",
    log: `service=${apiIP}:443\ncode=200\ncode=200\n`,
  });
  expect(denied).toEqual({ phase: "Succeeded", log: `service=${apiIP}:443\ncode=403\ncode=403\n` });
}, 180_000);

test("a pod reaches another pod through a ClusterIP Service; the host reaches the pod IP and the ClusterIP", async () => {
  const mark = `mark-${Math.random().toString(36).slice(2)}`;
  await core.createNamespacedService({
    namespace: ns.name,
    body: {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  await waitFor("web pod created", () =>
    core
      .createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: "web", labels: { app: "web" } },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "main",
                image: BASE_IMAGE,
                imagePullPolicy: "Never",
                command: [
                  "bash",
                  "-c",
                  `mkdir -p /srv && echo ${mark} > /srv/mark && cd /srv && exec python3 -m http.server 8080`,
                ],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      })
      .then(() => true),
  );
  const clusterIP = (await core.readNamespacedService({ name: "web", namespace: ns.name })).spec
    ?.clusterIP;
  expect(clusterIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
  const podIP = await waitFor(
    "web endpoint ready",
    async () => {
      const s = await discovery.listNamespacedEndpointSlice({
        namespace: ns.name,
        labelSelector: "kubernetes.io/service-name=web",
      });
      const ep = s.items.flatMap((i) => i.endpoints ?? []).find((e) => e.conditions?.ready);
      return ep?.addresses[0];
    },
    120_000,
  );

  // kube-proxy programs the endpoint moments after it turns ready: the client retries briefly.
  const client = await runPod(
    "client",
    `echo "env=$WEB_SERVICE_HOST"
     for i in $(seq 1 40); do curl -sf --max-time 2 http://${clusterIP}/mark && exit 0; sleep 0.25; done
     exit 1`,
    { automountServiceAccountToken: false },
  );
  expect(client).toEqual({ phase: "Succeeded", log: `env=${clusterIP}\n${mark}\n` });

  // Host -> pod IP over the bridge; host -> ClusterIP through the service namespace.
  expect(await (await fetch(`http://${podIP}:8080/mark`)).text()).toBe(`${mark}\n`);
  expect(await (await fetch(`http://${clusterIP}/mark`)).text()).toBe(`${mark}\n`);
  // A pod reaches itself through its own Service (kube-proxy masquerades, so the reply returns).
  const self = run(join(BIN, "kubectl"), [
    "--kubeconfig",
    process.env.KUBECONFIG!,
    "exec",
    "-n",
    ns.name,
    "web",
    "--",
    "curl",
    "-sf",
    "--max-time",
    "5",
    `http://${clusterIP}/mark`,
  ]);
  expect(self).toBe(`${mark}\n`);
}, 240_000);

test(
  "a second cluster's Services are its own, and its down removes its namespace, route and rules only",
  async () => {
    // A second kubelet takes over the host's fixed device-plugin socket
    // (/var/lib/kubelet/device-plugins/kubelet.sock): no other test file runs meanwhile, and this
    // run's kubelet is restarted afterwards to listen there again.
    await withApiServerExclusive(async () => {
      try {
        await secondClusterIsItsOwn();
      } finally {
        clusterCommand(["restart", "kubelet"]);
      }
    });
  },
  RESTART_TEST_TIMEOUT_MS,
);

async function secondClusterIsItsOwn() {
  const first = networkOf(process.env);
  const firstApi = (await core.readNamespacedService({ name: "kubernetes", namespace: "default" }))
    .spec!.clusterIP!;
  const firstCA = join(stateDir(), "pki", "ca.crt");
  const chainsBefore = hostKubeChains();
  expect(run("nft", ["list", "tables"])).not.toMatch(/kube-proxy/);

  const dir = mkdtempSync(join(tmpdir(), "soulbox-net2-"));
  const env: NodeJS.ProcessEnv = { ...process.env, SOULBOX_CLUSTER_DIR: dir, KUBECONFIG: "" };
  let second: ReturnType<typeof networkOf>;
  try {
    const started = Date.now();
    const up = clusterCommand(["up", "--with-node"], env);
    console.log(
      `[network] second cluster up --with-node took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const kc2 = new k8s.KubeConfig();
    kc2.loadFromFile(/export KUBECONFIG=(.+)\s*$/.exec(up.stdout)![1]!);
    const secondApi = (
      await kc2
        .makeApiClient(k8s.CoreV1Api)
        .readNamespacedService({ name: "kubernetes", namespace: "default" })
    ).spec!.clusterIP!;
    second = networkOf(env);
    expect(second.netns).not.toBe(first.netns);
    expect(second.services).not.toBe(first.services);
    expect(secondApi).not.toBe(firstApi);

    // Each kubernetes Service leads to its own API server (its certificate is from its own CA).
    expect(hostCurl(`https://${secondApi}/version`, ["--cacert", join(dir, "pki", "ca.crt")])).toBe(
      "200",
    );
    expect(hostCurl(`https://${firstApi}/version`, ["--cacert", firstCA])).toBe("200");
    // Each namespace holds its own cluster's rules and not the other's.
    const rules2 = run("ip", ["netns", "exec", second.netns, "iptables-save", "-t", "nat"]);
    expect(rules2).toContain(`-d ${secondApi}/32`);
    expect(rules2).not.toContain(`-d ${firstApi}/32`);
  } finally {
    clusterCommand(["down"], env);
  }

  expect(existsSync(dir)).toBe(false);
  expect(run("ip", ["netns", "list"])).not.toContain(second.netns);
  expect(run("ip", ["-o", "link", "show"])).not.toContain(second.link);
  expect(run("ip", ["-4", "route", "show"])).not.toContain(second.services);
  // The host's KUBE-* chains are the kubelet's (shared by every kubelet here), unchanged.
  expect(hostKubeChains()).toEqual(chainsBefore);
  // The first cluster's Services still work, its rules untouched.
  expect(hostCurl(`https://${firstApi}/version`, ["--cacert", firstCA])).toBe("200");
  expect(run("ip", ["netns", "exec", first.netns, "iptables-save", "-t", "nat"])).toContain(
    `-d ${firstApi}/32`,
  );
}
