/**
 * `helm install` of the chart into the local cluster, one release and namespace per test: the API
 * server takes every object, the operator's ServiceAccount can do exactly what RBAC should let it
 * do (asked of the API server's own authorizer), and the operator becomes Available with both
 * replicas ready, one of them holding the Lease, serving metrics behind the Service, and turns
 * examples/sandbox.yaml into a Ready sandbox without a single RBAC refusal; uninstalling
 * removes the release, cluster-scoped objects included, and keeps the CRDs.
 *
 * Needs the node (jest's global setup brings it up), the operator image
 * `localhost/soulbox/operator:latest` imported into its containerd, and kube-proxy so that the
 * operator reaches the API server through the `kubernetes` Service.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import {
  clusterCommand,
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../../e2e/cluster/test-support/cluster.js";
import type { Sandbox } from "../../api/gen/crd-types.js";
import { conditionOf, sandboxApi } from "../../operator/test-support/operator.js";
import { CHART, helm, helmOk } from "./helm.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/sandbox.yaml", import.meta.url));

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
const crds = kc.makeApiClient(k8s.ApiextensionsV1Api);

const AVAILABLE_WITHIN_MS = 120_000;
const SANDBOX_READY_WITHIN_MS = 120_000;
/** Container waiting reasons that mean the image is not there and will not be. */
const IMAGE_ERRORS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "ErrImageNeverPull",
  "InvalidImageName",
]);

let ns: { name: string; dispose(): Promise<void> };
let release: string;
let installed = false;

beforeEach(async () => {
  ns = await testNamespace(kc, "chart");
  release = `r${Math.random().toString(36).slice(2, 8)}`;
  installed = false;
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  if (installed) {
    const r = helm(["uninstall", release, "--namespace", ns.name, "--wait", "--timeout", "60s"]);
    // A failed uninstall must not leave cluster-wide RBAC behind for the next test run.
    if (r.status !== 0) {
      const labelSelector = `app.kubernetes.io/instance=${release}`;
      for (const b of (await rbac.listClusterRoleBinding({ labelSelector })).items)
        await rbac.deleteClusterRoleBinding({ name: b.metadata?.name ?? "" });
      for (const c of (await rbac.listClusterRole({ labelSelector })).items)
        await rbac.deleteClusterRole({ name: c.metadata?.name ?? "" });
    }
  }
  await ns.dispose();
});

/**
 * `helm install` of the chart as this test's release; returns helm's output (with NOTES). The
 * gateway's team is the test namespace: its RoleBinding and template ConfigMap would collide
 * with another release's in `default`.
 */
function install(sets: string[]): string {
  const out = helmOk([
    "install",
    release,
    CHART,
    "--namespace",
    ns.name,
    "--set",
    `gateway.teams={${ns.name}}`,
    ...sets.flatMap((s) => ["--set", s]),
  ]);
  installed = true;
  return out;
}

/** Whether the API server's authorizer lets `user` do `verb` on a resource. */
async function allowed(
  user: { name: string; namespace: string },
  verb: string,
  target: { group?: string; resource: string; namespace?: string; name?: string },
): Promise<boolean> {
  const [resource, subresource] = target.resource.split("/");
  const review = await authz.createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${user.namespace}:${user.name}`,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${user.namespace}`],
        resourceAttributes: {
          verb,
          group: target.group ?? "",
          resource,
          subresource,
          namespace: target.namespace,
          name: target.name,
        },
      },
    },
  });
  return review.status?.allowed ?? false;
}

/** What the operator pods are doing, for a failure message: phases, waits, logs, events. */
async function diagnose(namespace: string): Promise<string> {
  const lines: string[] = [];
  const pods = (await core.listNamespacedPod({ namespace })).items;
  if (pods.length === 0) lines.push("no pods were created");
  for (const pod of pods) {
    const name = pod.metadata?.name ?? "?";
    lines.push(`pod ${name}: ${pod.status?.phase} on ${pod.spec?.nodeName ?? "(unscheduled)"}`);
    for (const c of pod.status?.containerStatuses ?? []) {
      const waiting = c.state?.waiting;
      const last = c.lastState?.terminated;
      lines.push(
        `  ${c.name}: ready=${c.ready} restarts=${c.restartCount}` +
          (waiting ? ` waiting ${waiting.reason}: ${waiting.message ?? ""}` : "") +
          (last ? ` last exit ${last.exitCode} ${last.reason ?? ""}` : ""),
      );
    }
    const log = await core
      .readNamespacedPodLog({ name, namespace, container: "operator", tailLines: 15 })
      .catch((err: unknown) => `(no log: ${String(err).split("\n")[0]})`);
    lines.push(
      ...String(log)
        .trimEnd()
        .split("\n")
        .map((l) => `  | ${l}`),
    );
  }
  const events = (await core.listNamespacedEvent({ namespace })).items.slice(-15);
  for (const e of events)
    lines.push(
      `event ${e.type} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`,
    );
  return lines.join("\n");
}

test("the API server takes the release and RBAC lets the operator do exactly its job", async () => {
  // The image is one that does not exist, never pulled: this test is about RBAC, and a running
  // cluster-wide operator would reconcile other tests' Sandboxes.
  // The gateway's team is a namespace of its own, apart from the release's (its keys Secret).
  const teamNs = await testNamespace(kc, "team");
  try {
    await checkRbac(teamNs.name);
  } finally {
    await teamNs.dispose();
  }
});

async function checkRbac(team: string): Promise<void> {
  install([
    "image.repository=localhost/soulbox/not-an-image",
    "image.pullPolicy=Never",
    `gateway.teams={${team}}`,
  ]);
  const sa = { name: `${release}-soulbox`, namespace: ns.name };
  await core.readNamespacedServiceAccount({ name: sa.name, namespace: ns.name });

  const cases: [
    string,
    { group?: string; resource: string; namespace?: string; name?: string },
    boolean,
  ][] = [
    ["list", { group: "soulbox.dev", resource: "sandboxes", namespace: "default" }, true],
    ["watch", { group: "soulbox.dev", resource: "sandboxes" }, true],
    ["delete", { group: "soulbox.dev", resource: "sandboxes", namespace: "team" }, true],
    ["update", { group: "soulbox.dev", resource: "sandboxes/status", namespace: "team" }, true],
    ["update", { group: "soulbox.dev", resource: "sandboxes/finalizers", namespace: "team" }, true],
    ["create", { group: "soulbox.dev", resource: "sandboxes", namespace: "team" }, false],
    ["delete", { group: "soulbox.dev", resource: "snapshots", namespace: "team" }, true],
    ["delete", { group: "soulbox.dev", resource: "sandboxpools", namespace: "team" }, false],
    ["list", { group: "soulbox.dev", resource: "gpuallocations", namespace: "team" }, true],
    ["create", { resource: "pods", namespace: "team" }, true],
    ["patch", { resource: "secrets", namespace: "team" }, true],
    ["delete", { resource: "services", namespace: "team" }, true],
    ["create", { resource: "pods/exec", namespace: "team" }, false],
    ["get", { resource: "pods/proxy", namespace: "team" }, false],
    ["list", { resource: "configmaps", namespace: "team" }, true],
    ["update", { resource: "configmaps", namespace: "team" }, false],
    ["create", { resource: "events", namespace: "team" }, true],
    ["patch", { group: "events.k8s.io", resource: "events", namespace: "team" }, true],
    ["delete", { resource: "events", namespace: "team" }, false],
    [
      "create",
      { group: "networking.k8s.io", resource: "networkpolicies", namespace: "team" },
      true,
    ],
    ["get", { resource: "nodes" }, false],
    ["create", { resource: "namespaces" }, false],
    ["create", { group: "rbac.authorization.k8s.io", resource: "roles", namespace: "team" }, false],
    ["create", { group: "apps", resource: "deployments", namespace: "team" }, false],
    ["create", { group: "coordination.k8s.io", resource: "leases", namespace: ns.name }, true],
    [
      "update",
      {
        group: "coordination.k8s.io",
        resource: "leases",
        namespace: ns.name,
        name: "soulbox-operator",
      },
      true,
    ],
    [
      "get",
      {
        group: "coordination.k8s.io",
        resource: "leases",
        namespace: ns.name,
        name: "soulbox-operator",
      },
      true,
    ],
    [
      "update",
      { group: "coordination.k8s.io", resource: "leases", namespace: ns.name, name: "other" },
      false,
    ],
    [
      "delete",
      {
        group: "coordination.k8s.io",
        resource: "leases",
        namespace: ns.name,
        name: "soulbox-operator",
      },
      false,
    ],
    ["create", { group: "coordination.k8s.io", resource: "leases", namespace: "default" }, false],
  ];
  const got = await Promise.all(
    cases.map(
      async ([verb, target]) =>
        `${verb} ${JSON.stringify(target)}: ${await allowed(sa, verb, target)}`,
    ),
  );
  expect(got).toEqual(
    cases.map(([verb, target, want]) => `${verb} ${JSON.stringify(target)}: ${want}`),
  );

  // The gateway: Sandboxes readable everywhere (its routing cache), managed in its team
  // namespace only; its keys Secret by name; nothing of the operator's.
  const gw = { name: `${release}-soulbox-gateway`, namespace: ns.name };
  const keys = "soulbox-gateway-api-keys";
  const gatewayCases: [
    string,
    { group?: string; resource: string; namespace?: string; name?: string },
    boolean,
  ][] = [
    ["watch", { group: "soulbox.dev", resource: "sandboxes" }, true],
    ["list", { group: "soulbox.dev", resource: "sandboxes", namespace: "default" }, true],
    ["create", { group: "soulbox.dev", resource: "sandboxes", namespace: team }, true],
    ["patch", { group: "soulbox.dev", resource: "sandboxes", namespace: team }, true],
    ["delete", { group: "soulbox.dev", resource: "sandboxes", namespace: team }, true],
    ["create", { group: "soulbox.dev", resource: "sandboxes", namespace: "default" }, false],
    ["delete", { group: "soulbox.dev", resource: "sandboxes", namespace: "default" }, false],
    ["update", { group: "soulbox.dev", resource: "sandboxes/status", namespace: team }, false],
    ["get", { resource: "secrets", namespace: team, name: "abc-envd" }, true],
    ["create", { resource: "secrets", namespace: team }, true],
    ["delete", { resource: "secrets", namespace: team, name: "abc-env" }, true],
    ["list", { resource: "secrets", namespace: team }, false],
    ["get", { resource: "secrets", namespace: "default", name: "abc-envd" }, false],
    ["get", { resource: "configmaps", namespace: team, name: "soulbox-template-base" }, true],
    ["update", { resource: "configmaps", namespace: team }, false],
    ["get", { resource: "pods", namespace: team }, true],
    ["get", { resource: "pods/log", namespace: team }, true],
    ["create", { resource: "pods", namespace: team }, false],
    ["create", { resource: "pods/exec", namespace: team }, false],
    ["get", { resource: "pods/log", namespace: "default" }, false],
    ["get", { resource: "secrets", namespace: ns.name, name: keys }, true],
    ["watch", { resource: "secrets", namespace: ns.name, name: keys }, true],
    ["update", { resource: "secrets", namespace: ns.name, name: keys }, true],
    ["create", { resource: "secrets", namespace: ns.name }, true],
    ["get", { resource: "secrets", namespace: ns.name, name: "other" }, false],
    ["list", { resource: "secrets", namespace: ns.name }, false],
    ["delete", { resource: "secrets", namespace: ns.name, name: keys }, false],
    ["create", { group: "coordination.k8s.io", resource: "leases", namespace: ns.name }, false],
    ["get", { resource: "nodes" }, false],
  ];
  const gatewayGot = await Promise.all(
    gatewayCases.map(
      async ([verb, target]) =>
        `${verb} ${JSON.stringify(target)}: ${await allowed(gw, verb, target)}`,
    ),
  );
  expect(gatewayGot).toEqual(
    gatewayCases.map(([verb, target, want]) => `${verb} ${JSON.stringify(target)}: ${want}`),
  );
  // The team's template is there for the operator to read.
  const template = await core.readNamespacedConfigMap({
    name: "soulbox-template-base",
    namespace: team,
  });
  expect(template.metadata?.labels?.["soulbox.dev/template"]).toBe("base");
}

test("helm install: the operator becomes Available, one replica leads, metrics are served, a Sandbox becomes Ready", async () => {
  // Watching this namespace only keeps the operator away from other tests' Sandboxes; the
  // gateway has a test of its own.
  const notes = install([`watchNamespace=${ns.name}`, "gateway.enabled=false"]);
  expect(notes).toMatch(new RegExp(`rollout status deployment/${release}-soulbox-operator`));
  expect(notes).toMatch(/RuntimeClass "kata" must exist/);

  const sa = { name: `${release}-soulbox`, namespace: ns.name };
  const sandboxResource = { group: "soulbox.dev", resource: "sandboxes" };
  expect(await allowed(sa, "list", { ...sandboxResource, namespace: ns.name })).toBe(true);
  expect(await allowed(sa, "list", { ...sandboxResource, namespace: "default" })).toBe(false);
  expect(await allowed(sa, "list", sandboxResource)).toBe(false);

  const name = `${release}-soulbox-operator`;
  const outcome = await waitFor(
    "the operator Deployment Available with 2 ready replicas",
    async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace: ns.name });
      const available =
        d.status?.conditions?.find((c) => c.type === "Available")?.status === "True";
      if (available && d.status?.readyReplicas === 2) return "available";
      // An image that cannot be pulled never will be: say so now, not at the deadline.
      const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
      const waiting = pods.flatMap((p) => p.status?.containerStatuses ?? []);
      const stuck = waiting.find((c) => IMAGE_ERRORS.has(c.state?.waiting?.reason ?? ""));
      return stuck ? `image ${stuck.image}: ${stuck.state?.waiting?.reason}` : undefined;
    },
    AVAILABLE_WITHIN_MS,
  ).catch((err: unknown) => String(err));
  if (outcome !== "available") throw new Error(`${outcome}\n${await diagnose(ns.name)}`);

  const pods = (
    await core.listNamespacedPod({
      namespace: ns.name,
      labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`,
    })
  ).items.filter((p) => p.status?.phase === "Running");
  expect(pods).toHaveLength(2);
  const podNames = pods.map((p) => p.metadata?.name);

  // The Lease lives in the release namespace and names one of the two replicas.
  const holder = await waitFor("a replica holding the Lease", async () => {
    const lease = await coordination.readNamespacedLease({
      name: "soulbox-operator",
      namespace: ns.name,
    });
    return lease.spec?.holderIdentity || undefined;
  });
  expect(podNames).toContain(holder);

  // The metrics Service has both replicas behind it, and each serves the operator's metrics.
  const service = `${release}-soulbox-metrics`;
  const slices = await waitFor("both replicas behind the metrics Service", async () => {
    const list = await discovery.listNamespacedEndpointSlice({
      namespace: ns.name,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    const ready = list.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready));
    return ready.length === 2 ? list.items : undefined;
  });
  expect(slices.flatMap((s) => (s.ports ?? []).map((p) => p.port))).toContain(8080);
  for (const pod of pods) {
    const res = await fetch(`http://${pod.status?.podIP}:8080/metrics`, {
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/# TYPE soulbox_workqueue_depth gauge/);
  }

  // The example Sandbox becomes Ready under the chart's RBAC and defaults (RuntimeClass kata,
  // which the local cluster maps to runc), and goes away when deleted.
  const example = parse(readFileSync(EXAMPLE, "utf8")) as Sandbox;
  const sandboxes = sandboxApi(kc, ns.name);
  await sandboxes.create("example", example.spec);
  await waitFor(
    "the example Sandbox Ready",
    async () =>
      conditionOf(await sandboxes.get("example"), "Ready")?.status === "True" ? true : undefined,
    SANDBOX_READY_WITHIN_MS,
  ).catch(async (err: unknown) => {
    const sb = await sandboxes.getOrUndefined("example");
    throw new Error(
      `${String(err)}\nstatus: ${JSON.stringify(sb?.status)}\n${await diagnose(ns.name)}`,
    );
  });
  expect((await sandboxes.get("example")).status?.podName).toBe("example");
  await sandboxes.delete("example");
  await waitFor("the example Sandbox gone", async () =>
    (await sandboxes.getOrUndefined("example")) === undefined ? true : undefined,
  );
  // Nothing the operator tried was refused by RBAC.
  for (const pod of pods) {
    const log = await core.readNamespacedPodLog({
      name: pod.metadata?.name ?? "",
      namespace: ns.name,
      container: "operator",
    });
    expect(log).not.toMatch(/forbidden/i);
  }

  helmOk(["uninstall", release, "--namespace", ns.name, "--wait", "--timeout", "60s"]);
  installed = false;
  const gone = async (read: () => Promise<unknown>): Promise<boolean> =>
    read().then(
      () => false,
      (err: unknown) => err instanceof k8s.ApiException && err.code === 404,
    );
  expect(await gone(() => rbac.readClusterRole({ name }))).toBe(true);
  expect(await gone(() => rbac.readNamespacedRoleBinding({ name, namespace: ns.name }))).toBe(true);
  expect(await gone(() => apps.readNamespacedDeployment({ name, namespace: ns.name }))).toBe(true);
  await waitFor("the operator pods gone", async () =>
    (
      await core.listNamespacedPod({
        namespace: ns.name,
        labelSelector: `app.kubernetes.io/instance=${release}`,
      })
    ).items.length === 0
      ? true
      : undefined,
  );
  // Helm never deletes CRDs: users' Sandboxes survive an uninstall.
  await crds.readCustomResourceDefinition({ name: "sandboxes.soulbox.dev" });
}, 240_000);

test("helm install with a TLS Secret: the gateway becomes Available and answers HTTPS for *.<domain> behind its Service", async () => {
  // A certificate from the cluster's gateway CA (what `up` does for soulbox.test).
  const domain = "gw.soulbox.test";
  const dir = mkdtempSync(join(tmpdir(), "soulbox-gateway-tls-"));
  try {
    clusterCommand(["cert", domain, dir]);
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: { name: "gw-tls" },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": readFileSync(join(dir, "tls.crt")).toString("base64"),
          "tls.key": readFileSync(join(dir, "tls.key")).toString("base64"),
        },
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ca = readFileSync(
    join(process.env.SOULBOX_CLUSTER_DIR ?? "e2e/cluster/.state", "pki", "gateway-ca.crt"),
  );
  const notes = install([
    `watchNamespace=${ns.name}`,
    `gateway.domain=${domain}`,
    "gateway.tls.secretName=gw-tls",
  ]);
  expect(notes).toMatch(/https 443 \(certificate in Secret gw-tls\)/);

  const name = `${release}-soulbox-gateway`;
  const outcome = await waitFor(
    "the gateway Deployment Available with 2 ready replicas",
    async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace: ns.name });
      const available =
        d.status?.conditions?.find((c) => c.type === "Available")?.status === "True";
      if (available && d.status?.readyReplicas === 2) return "available";
      const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
      const stuck = pods
        .flatMap((p) => p.status?.containerStatuses ?? [])
        .find((c) => IMAGE_ERRORS.has(c.state?.waiting?.reason ?? ""));
      return stuck ? `image ${stuck.image}: ${stuck.state?.waiting?.reason}` : undefined;
    },
    AVAILABLE_WITHIN_MS,
  ).catch((err: unknown) => String(err));
  if (outcome !== "available") throw new Error(`${outcome}\n${await diagnose(ns.name)}`);

  // Probes and metrics on the health port of each replica.
  const pods = (
    await core.listNamespacedPod({
      namespace: ns.name,
      labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=gateway`,
    })
  ).items.filter((p) => p.status?.phase === "Running");
  expect(pods).toHaveLength(2);
  for (const pod of pods)
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const res = await fetch(`http://${pod.status?.podIP}:8081${path}`, {
        signal: AbortSignal.timeout(5_000),
      });
      expect([path, res.status]).toEqual([path, 200]);
    }

  // HTTPS through the Service's ClusterIP, verified against the CA for a name under the
  // domain: the REST API answers (401 without a key: auth comes before anything else).
  const svc = await core.readNamespacedService({ name, namespace: ns.name });
  expect(svc.spec?.ports?.map((p) => `${p.name}:${p.port}`)).toEqual(["http:80", "https:443"]);
  const https = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: svc.spec?.clusterIP,
          port: 443,
          servername: `api.${domain}`,
          path: "/sandboxes",
          ca,
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
      req.on("error", reject);
      req.end();
    });
  // kube-proxy programs a new Service's ClusterIP a moment after its endpoints are ready: until
  // then a connection is refused (seen under a full run's load). Asked again for up to 30 s; the
  // last error is the failure.
  const status = await waitFor("the gateway answering HTTPS on its ClusterIP", https);
  expect(status).toBe(401);
  for (const pod of pods) {
    const log = await core.readNamespacedPodLog({
      name: pod.metadata?.name ?? "",
      namespace: ns.name,
      container: "gateway",
    });
    expect(log).not.toMatch(/forbidden/i);
  }
}, 240_000);
