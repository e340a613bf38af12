/**
 * The chart, rendered without a cluster: `helm lint --strict` is clean, the operator Deployment
 * carries the interface the operator reads (flags, env, probes, ports), RBAC is exactly the least
 * privilege the operator needs, values flow into the objects, optional objects appear only when
 * asked for, the CRDs are the ones in crds/, the dashboard queries metrics that exist, and bad
 * values are refused with a message that names the value. Installing it is chart-install.test.ts.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { createOperatorMetrics } from "../../operator/src/metrics.js";
import type { K8sObject } from "./helm.js";
import { CHART, KUBE_VERSION, helm, ofKind, render, single } from "./helm.js";
import { withApiMetrics } from "../../gateway/src/api-metrics.js";
import { createProxyMetrics } from "../../gateway/src/proxy/metrics.js";

const CRDS = fileURLToPath(new URL("../../crds/", import.meta.url));
const NAMESPACE = "soulbox-system";

/** Whether a rendered object is the gateway's (gateway-chart.test.ts tests those). */
const isGateway = (o: K8sObject): boolean =>
  o.metadata.labels?.["app.kubernetes.io/component"] === "gateway";

/** The operator's part of a rendering: everything but the gateway's objects. */
function renderOperator(sets: string[] = [], extra: string[] = []): K8sObject[] {
  return render(sets, extra).filter((o) => !isGateway(o));
}

/** The value after `flag` in an argument list, `true` for a flag alone, undefined when absent. */
function flag(args: string[], name: string): string | true | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const next = args[i + 1];
  return next === undefined || next.startsWith("--") ? true : next;
}

function operator(objects = renderOperator()): {
  deploy: k8s.V1Deployment;
  container: k8s.V1Container;
} {
  const deploy = single<k8s.V1Deployment>(objects, "Deployment");
  const containers = deploy.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return { deploy, container: containers[0] as k8s.V1Container };
}

/** Every (group, resource, verb, name) a set of rules grants, one string each. */
function grants(rules: k8s.V1PolicyRule[] = []): string[] {
  return rules.flatMap((r) =>
    (r.apiGroups ?? []).flatMap((g) =>
      (r.resources ?? []).flatMap((res) =>
        r.verbs.flatMap((v) =>
          (r.resourceNames?.length ? r.resourceNames : ["*"]).map(
            (n) => `${g || "core"}/${res}:${v}@${n}`,
          ),
        ),
      ),
    ),
  );
}

const every = (group: string, resources: string[], verbs: string[]): string[] =>
  resources.flatMap((r) => verbs.map((v) => `${group}/${r}:${v}@*`));

/** What the operator needs in the namespaces it reconciles, and nothing more. */
const CLUSTER_GRANTS = [
  ...every("soulbox.dev", ["sandboxes"], ["get", "list", "watch", "update", "patch", "delete"]),
  ...every("soulbox.dev", ["sandboxes/status"], ["get", "update", "patch"]),
  ...every("soulbox.dev", ["sandboxes/finalizers"], ["update"]),
  ...every("soulbox.dev", ["gpuallocations"], ["get", "list", "watch"]),
  // Pause Snapshots are the operator's children; every Snapshot's status and finalizer its own.
  ...every(
    "soulbox.dev",
    ["snapshots"],
    ["get", "list", "watch", "create", "update", "patch", "delete"],
  ),
  ...every("soulbox.dev", ["snapshots/status"], ["get", "update", "patch"]),
  ...every("soulbox.dev", ["snapshots/finalizers"], ["update"]),
  ...every("soulbox.dev", ["sandboxpools"], ["get", "list", "watch"]),
  ...every("soulbox.dev", ["sandboxpools/status"], ["get", "update", "patch"]),
  ...every(
    "core",
    ["pods", "secrets", "services"],
    ["get", "list", "watch", "create", "patch", "update", "delete"],
  ),
  ...every("core", ["configmaps"], ["get", "list", "watch"]),
  ...every("core", ["events"], ["create", "patch"]),
  ...every("events.k8s.io", ["events"], ["create", "patch"]),
  ...every(
    "networking.k8s.io",
    ["networkpolicies"],
    ["get", "list", "watch", "create", "patch", "update", "delete"],
  ),
].sort();

/** What leader election needs in the release namespace: create a Lease, read and renew its own. */
const LEASE_GRANTS = [
  "coordination.k8s.io/leases:create@*",
  "coordination.k8s.io/leases:get@soulbox-operator",
  "coordination.k8s.io/leases:update@soulbox-operator",
].sort();

describe("helm lint", () => {
  test.each([
    ["the default values", []],
    [
      "every optional object on",
      [
        "serviceMonitor.enabled=true",
        "runtimeClasses.kata.create=true",
        "runtimeClasses.runc.create=true",
        "watchNamespace=team-a",
      ],
    ],
    ["one replica without leader election", ["replicaCount=1", "leaderElection.enabled=false"]],
  ])("is clean in strict mode with %s", (_name, sets) => {
    const r = helm([
      "lint",
      "--strict",
      CHART,
      "--kube-version",
      KUBE_VERSION,
      ...sets.flatMap((s) => ["--set", s]),
    ]);
    expect(r.stderr + r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(r.status).toBe(0);
  });
});

describe("helm template with the default values", () => {
  const objects = renderOperator();

  test("renders the operator's objects and nothing optional", () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual([
      "ClusterRole/demo-soulbox-operator",
      "ClusterRoleBinding/demo-soulbox-operator",
      "ConfigMap/demo-soulbox-dashboard",
      "Deployment/demo-soulbox-operator",
      "Role/demo-soulbox-leader-election",
      "RoleBinding/demo-soulbox-leader-election",
      "Service/demo-soulbox-metrics",
      "ServiceAccount/demo-soulbox",
    ]);
    for (const o of objects) {
      const clusterScoped = o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding";
      expect([o.kind, o.metadata.namespace]).toEqual([
        o.kind,
        clusterScoped ? undefined : NAMESPACE,
      ]);
      expect(o.metadata.labels?.["app.kubernetes.io/instance"]).toBe("demo");
    }
  });

  test("the operator runs 2 replicas with leader election and the operator's flags", () => {
    const { deploy, container } = operator(objects);
    expect(deploy.spec?.replicas).toBe(2);
    expect(container.image).toBe("localhost/soulbox/operator:latest");
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.command).toBeUndefined();
    expect(container.args).toEqual([
      "--leader-elect",
      "--lease-name",
      "soulbox-operator",
      "--metrics-port",
      "8080",
      "--health-port",
      "8081",
      "--envd-image",
      "localhost/soulbox/envd:latest",
      "--kit-volume",
      "copy",
      "--default-runtime-class",
      "kata",
      "--workers",
      "8",
      "--log-level",
      "info",
    ]);
    expect(container.env).toEqual([
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    ]);
    // A rollout never takes the last ready replica away.
    expect(deploy.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  test("probes: liveness and startup on /healthz, readiness on /readyz, on the health port", () => {
    const { container } = operator(objects);
    expect(container.ports).toEqual([
      { name: "metrics", containerPort: 8080, protocol: "TCP" },
      { name: "health", containerPort: 8081, protocol: "TCP" },
    ]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "health" });
  });

  test("the pod is hardened: non-root, no privilege, read-only root, no capabilities", () => {
    const { deploy, container } = operator(objects);
    const pod = deploy.spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod?.hostNetwork ?? false).toBe(false);
    expect(pod?.hostPID ?? false).toBe(false);
    expect(pod?.enableServiceLinks).toBe(false);
    expect(container.resources?.requests).toEqual({ cpu: "100m", memory: "128Mi" });
    expect(container.resources?.limits?.memory).toBe("512Mi");
  });

  test("RBAC is exactly the least privilege the operator needs", () => {
    const sa = single<k8s.V1ServiceAccount>(objects, "ServiceAccount");
    const { deploy } = operator(objects);
    expect(deploy.spec?.template.spec?.serviceAccountName).toBe(sa.metadata?.name);
    const subject = { kind: "ServiceAccount", name: sa.metadata?.name, namespace: NAMESPACE };

    const clusterRole = single<k8s.V1ClusterRole>(objects, "ClusterRole");
    const clusterGrants = grants(clusterRole.rules);
    expect(clusterGrants.sort()).toEqual(CLUSTER_GRANTS);
    expect(new Set(clusterGrants).size).toBe(clusterGrants.length);
    const crb = single<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding");
    expect(crb.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: clusterRole.metadata?.name,
    });
    expect(crb.subjects).toEqual([subject]);

    const role = single<k8s.V1Role>(objects, "Role");
    expect(grants(role.rules).sort()).toEqual(LEASE_GRANTS);
    const rb = single<k8s.V1RoleBinding>(objects, "RoleBinding");
    expect(rb.metadata?.namespace).toBe(NAMESPACE);
    expect(rb.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: role.metadata?.name,
    });
    expect(rb.subjects).toEqual([subject]);
  });

  test("the metrics Service selects the operator pods on the metrics port", () => {
    const svc = single<k8s.V1Service>(objects, "Service");
    const { deploy } = operator(objects);
    expect(svc.spec?.selector).toEqual(deploy.spec?.selector.matchLabels);
    expect(deploy.spec?.template.metadata?.labels).toMatchObject(svc.spec?.selector ?? {});
    expect(svc.spec?.ports).toEqual([
      { name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" },
    ]);
  });

  test("the Grafana dashboard has the operator's and the gateway's panels and queries only metrics they have", async () => {
    const cm = single<k8s.V1ConfigMap>(objects, "ConfigMap");
    expect(cm.metadata?.labels?.grafana_dashboard).toBe("1");
    const json = cm.data?.["soulbox-operator.json"];
    expect(json).toBeDefined();
    const dashboard = JSON.parse(json ?? "") as {
      uid: string;
      panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
      templating: { list: { query: unknown }[] };
    };
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        "Sandboxes by phase",
        "Start latency (creation to Ready)",
        "Reconcile errors",
        "Work queue depth",
        "Gateway API calls by status",
        "Gateway API latency p99 by route",
        "Sandbox traffic by outcome",
        "Warm pools: ready pods and target",
        "Warm pools: claims by result",
        "Warm pools: claim latency",
      ]),
    );
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    for (const p of dashboard.panels) expect(p.datasource.uid).toBe("${datasource}");

    // The gateway's metrics are on the same dashboard.
    const registry = createOperatorMetrics().registry;
    createProxyMetrics(registry);
    withApiMetrics({ write: () => undefined, close: async () => undefined }, registry);
    const known = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    const used = new Set(
      [...exprs, JSON.stringify(dashboard.templating)].flatMap(
        (e) => e.match(/\bsoulbox_\w+/g) ?? [],
      ),
    );
    expect(used.size).toBeGreaterThanOrEqual(5);
    const unknown = [...used].filter((name) => {
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      return !known.has(histogram && known.get(histogram) === "histogram" ? histogram : name);
    });
    expect(unknown).toEqual([]);
    // Start latency is a histogram quantile over the time-to-Ready buckets.
    expect(exprs.join("\n")).toMatch(
      /histogram_quantile\(0\.99, sum by \(le\) \(rate\(soulbox_sandbox_ready_seconds_bucket/,
    );
  });
});

describe("values flow into the rendered objects", () => {
  test.each<[string, string[], Record<string, string | true | undefined>]>([
    [
      "envd image",
      ["envd.image=images.internal/soulbox/envd:1.2"],
      { "--envd-image": "images.internal/soulbox/envd:1.2" },
    ],
    ["the kit from an image volume", ["envd.kitVolume=image"], { "--kit-volume": "image" }],
    ["the kit copied per pod", ["envd.kitVolume=copy"], { "--kit-volume": "copy" }],
    [
      "default runtime class",
      ["runtimeClass.default=gvisor"],
      { "--default-runtime-class": "gvisor" },
    ],
    ["watched namespace", ["watchNamespace=team-a"], { "--watch-namespace": "team-a" }],
    ["no watched namespace", [], { "--watch-namespace": undefined }],
    ["log level", ["logLevel=debug"], { "--log-level": "debug" }],
    ["workers", ["workers=32"], { "--workers": "32" }],
    [
      "ports",
      ["metrics.port=9090", "health.port=9091"],
      { "--metrics-port": "9090", "--health-port": "9091" },
    ],
    [
      "lease name",
      ["leaderElection.leaseName=sbx-leader"],
      { "--leader-elect": true, "--lease-name": "sbx-leader" },
    ],
    [
      "leader election off",
      ["replicaCount=1", "leaderElection.enabled=false"],
      { "--leader-elect": undefined, "--lease-name": undefined },
    ],
  ])("%s", (_name, sets, want) => {
    const { container } = operator(renderOperator(sets));
    const args = container.args ?? [];
    for (const [name, value] of Object.entries(want))
      expect([name, flag(args, name)]).toEqual([name, value]);
  });

  test("image, replicas, resources, scheduling and ports reach the Deployment and Service", () => {
    const objects = renderOperator([
      "image.repository=images.internal/soulbox/operator",
      "image.tag=0.2.0",
      "image.pullPolicy=Always",
      "replicaCount=3",
      "resources.requests.cpu=250m",
      "resources.limits.memory=1Gi",
      "nodeSelector.pool=system",
      "priorityClassName=system-cluster-critical",
      "metrics.port=9090",
      "health.port=9091",
    ]);
    const { deploy, container } = operator(objects);
    expect(deploy.spec?.replicas).toBe(3);
    expect(container.image).toBe("images.internal/soulbox/operator:0.2.0");
    expect(container.imagePullPolicy).toBe("Always");
    expect(container.resources).toEqual({
      requests: { cpu: "250m", memory: "128Mi" },
      limits: { memory: "1Gi" },
    });
    expect(deploy.spec?.template.spec?.nodeSelector).toEqual({ pool: "system" });
    expect(deploy.spec?.template.spec?.priorityClassName).toBe("system-cluster-critical");
    expect(container.ports?.map((p) => p.containerPort)).toEqual([9090, 9091]);
    expect(single<k8s.V1Service>(objects, "Service").spec?.ports?.[0]?.port).toBe(9090);
  });

  test("object storage reaches the operator and the gateway: URL, mounted credentials and keyring", () => {
    const storageOf = (sets: string[]) =>
      ofKind<k8s.V1Deployment>(render(sets), "Deployment").map((d) => {
        const pod = d.spec?.template.spec;
        const container = pod?.containers[0];
        const env = Object.fromEntries(
          (container?.env ?? [])
            .filter((e) => e.name.startsWith("SOULBOX_STORAGE_"))
            .map((e) => [e.name, e.value]),
        );
        const mounts = (container?.volumeMounts ?? []).filter((m) => m.name.startsWith("storage-"));
        const volumes = (pod?.volumes ?? []).filter((v) => v.name.startsWith("storage-"));
        return { name: d.metadata?.name, env, mounts, volumes };
      });
    for (const d of storageOf([])) expect([d.env, d.mounts, d.volumes]).toEqual([{}, [], []]);
    const s3 = storageOf([
      "storage.url=s3://snaps/prod?region=eu-west-1",
      "storage.credentialsSecret=s3-creds",
      "storage.encryption.keySecret=snap-keys",
    ]);
    expect(s3.map((d) => d.name)).toEqual(["demo-soulbox-operator", "demo-soulbox-gateway"]);
    for (const d of s3) {
      expect(d.env).toEqual({
        SOULBOX_STORAGE_URL: "s3://snaps/prod?region=eu-west-1",
        SOULBOX_STORAGE_CREDENTIALS_DIR: "/etc/soulbox/storage/credentials",
        SOULBOX_STORAGE_KEYRING_DIR: "/etc/soulbox/storage/keyring",
      });
      expect(d.mounts.every((m) => m.readOnly)).toBe(true);
      expect(d.volumes.map((v) => v.secret?.secretName)).toEqual(["s3-creds", "snap-keys"]);
    }
    const clear = storageOf([
      "storage.url=gs://snaps",
      "storage.encryption.keySecret=snap-keys",
      "storage.encryption.enabled=false",
    ]);
    expect(clear[0]?.env).toEqual({ SOULBOX_STORAGE_URL: "gs://snaps" });
    const file = storageOf([
      "storage.url=file:///var/soulbox/snaps",
      "storage.pvc.claimName=snaps",
    ]);
    expect(file[0]?.mounts).toEqual([{ name: "storage-files", mountPath: "/var/soulbox/snaps" }]);
    expect(file[0]?.volumes[0]?.persistentVolumeClaim?.claimName).toBe("snaps");
  });

  test("envd.kitVolume auto is an image volume from Kubernetes 1.35 (ImageVolume on by default)", () => {
    const kitVolume = (kubeVersion: string) => {
      const args = single<k8s.V1Deployment>(
        render([], ["--kube-version", kubeVersion]).filter(
          (o) => o.metadata?.name === "demo-soulbox-operator",
        ),
        "Deployment",
      ).spec?.template.spec?.containers[0]?.args;
      return args?.[(args?.indexOf("--kit-volume") ?? -2) + 1];
    };
    expect(kitVolume("1.34.4")).toBe("copy");
    expect(kitVolume("1.35.0")).toBe("image");
  });

  test("an empty image tag means the chart's appVersion", () => {
    const appVersion = (
      parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { appVersion: string }
    ).appVersion;
    expect(operator(renderOperator(["image.tag="])).container.image).toBe(
      `localhost/soulbox/operator:${appVersion}`,
    );
  });

  test("a watched namespace binds the ClusterRole there only, never cluster-wide", () => {
    const objects = renderOperator(["watchNamespace=team-a"]);
    expect(ofKind(objects, "ClusterRoleBinding")).toEqual([]);
    const bindings = ofKind<k8s.V1RoleBinding>(objects, "RoleBinding");
    const operatorBinding = bindings.find((b) => b.roleRef.kind === "ClusterRole");
    expect(operatorBinding?.metadata?.namespace).toBe("team-a");
    expect(operatorBinding?.roleRef.name).toBe("demo-soulbox-operator");
    // The Lease stays in the release namespace.
    expect(bindings.find((b) => b.roleRef.kind === "Role")?.metadata?.namespace).toBe(NAMESPACE);
  });

  test("without leader election there is no Lease Role", () => {
    const objects = renderOperator(["replicaCount=1", "leaderElection.enabled=false"]);
    expect(ofKind(objects, "Role")).toEqual([]);
    expect(ofKind<k8s.V1RoleBinding>(objects, "RoleBinding")).toEqual([]);
  });

  test("an existing ServiceAccount is used, not created", () => {
    const objects = renderOperator(["serviceAccount.create=false", "serviceAccount.name=ops-sa"]);
    expect(ofKind(objects, "ServiceAccount")).toEqual([]);
    expect(operator(objects).deploy.spec?.template.spec?.serviceAccountName).toBe("ops-sa");
    expect(
      single<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding").subjects?.[0]?.name,
    ).toBe("ops-sa");
  });

  test("the ServiceMonitor is rendered only when asked for, and scrapes the metrics Service", () => {
    expect(ofKind(renderOperator(), "ServiceMonitor")).toEqual([]);
    const objects = renderOperator([
      "serviceMonitor.enabled=true",
      "serviceMonitor.interval=15s",
      "serviceMonitor.labels.release=prom",
    ]);
    const sm = single<K8sServiceMonitor>(objects, "ServiceMonitor");
    expect(sm.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(sm.metadata.labels?.release).toBe("prom");
    const svc = single<k8s.V1Service>(objects, "Service");
    expect(svc.metadata?.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    expect(sm.spec.endpoints).toEqual([
      { port: "metrics", path: "/metrics", interval: "15s", scrapeTimeout: "10s" },
    ]);
  });

  test("RuntimeClasses are rendered only when asked for, with the handler given", () => {
    expect(ofKind(renderOperator(), "RuntimeClass")).toEqual([]);
    const objects = renderOperator([
      "runtimeClasses.kata.create=true",
      "runtimeClasses.kata.handler=kata-qemu",
      "runtimeClasses.kata.overhead.memory=160Mi",
      "runtimeClasses.kata.nodeSelector.runtime=kata",
      "runtimeClasses.runc.create=true",
    ]);
    const classes = ofKind<k8s.V1RuntimeClass>(objects, "RuntimeClass");
    expect(classes.map((c) => [c.metadata?.name, c.handler])).toEqual([
      ["kata", "kata-qemu"],
      ["runc", "runc"],
    ]);
    expect(classes[0]?.overhead).toEqual({ podFixed: { memory: "160Mi" } });
    expect(classes[0]?.scheduling).toEqual({ nodeSelector: { runtime: "kata" } });
  });

  test("the dashboard can be left out or placed in Grafana's namespace", () => {
    expect(ofKind(renderOperator(["dashboard.enabled=false"]), "ConfigMap")).toEqual([]);
    const cm = single<k8s.V1ConfigMap>(
      renderOperator(["dashboard.namespace=monitoring"]),
      "ConfigMap",
    );
    expect(cm.metadata?.namespace).toBe("monitoring");
  });
});

interface K8sServiceMonitor {
  apiVersion: string;
  metadata: { labels?: Record<string, string> };
  spec: {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: unknown;
    endpoints: unknown[];
  };
}

test("the chart's CRDs are the ones in crds/", () => {
  const shipped = ofKind<K8sObject>(
    renderOperator([], ["--include-crds"]),
    "CustomResourceDefinition",
  );
  const source = readdirSync(CRDS)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parse(readFileSync(join(CRDS, f), "utf8"), { version: "1.1" }) as unknown);
  expect(shipped.map((c) => c.metadata.name).sort()).toEqual([
    "gpuallocations.soulbox.dev",
    "sandboxes.soulbox.dev",
    "sandboxpools.soulbox.dev",
    "snapshots.soulbox.dev",
  ]);
  expect(shipped).toEqual(source);
});

describe("bad values are refused with a message that names them", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "soulbox-chart-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test.each<[string, string, RegExp]>([
    ["replicas as a word", "replicaCount: two\n", /at '\/replicaCount': got string, want integer/],
    ["no replicas", "replicaCount: 0\n", /at '\/replicaCount': minimum: got 0, want 1/],
    ["a misspelt key", "replicas: 2\n", /additional properties 'replicas' not allowed/],
    [
      "a misspelt nested key",
      "envd:\n  imgae: x\n",
      /at '\/envd': additional properties 'imgae' not allowed/,
    ],
    [
      "an unknown log level",
      "logLevel: loud\n",
      /at '\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/,
    ],
    ["an empty envd image", 'envd:\n  image: ""\n', /at '\/envd\/image'/],
    [
      "a bad namespace",
      "watchNamespace: Team_A\n",
      /at '\/watchNamespace'[\s\S]*does not match pattern/,
    ],
    ["a bad runtime class", "runtimeClass:\n  default: Kata VM\n", /at '\/runtimeClass\/default'/],
    ["a port out of range", "metrics:\n  port: 70000\n", /at '\/metrics\/port': maximum/],
    [
      "an unknown pull policy",
      "image:\n  pullPolicy: Sometimes\n",
      /at '\/image\/pullPolicy': value must be one of/,
    ],
    [
      "a bad scrape interval",
      "serviceMonitor:\n  interval: often\n",
      /at '\/serviceMonitor\/interval'/,
    ],
    [
      "replicas without leader election",
      "leaderElection:\n  enabled: false\n",
      /replicaCount is 2 but leaderElection.enabled is false: .*Enable leader election or set replicaCount to 1/,
    ],
    ["one port for both", "health:\n  port: 8080\n", /metrics.port and health.port are both 8080/],
    [
      "a storage URL of an unknown scheme",
      "storage:\n  url: ftp://host/x\n",
      /at '\/storage\/url'/,
    ],
    [
      "credentials inside the storage URL",
      "storage:\n  url: s3://key:secret@bucket/p\n",
      /at '\/storage\/url'/,
    ],
    [
      "a secret in the storage URL's query",
      "storage:\n  url: s3://bucket/p?secretAccessKey=x\n",
      /at '\/storage\/url': 'not' failed/,
    ],
    [
      "a file store without a PVC",
      "storage:\n  url: file:///snapshots\n",
      /storage.url is file:\/\/\/snapshots but storage.pvc.claimName is empty/,
    ],
    [
      "a PVC for a store that is not a file store",
      "storage:\n  url: gs://bucket/p\n  pvc:\n    claimName: snaps\n",
      /storage.pvc.claimName is set but storage.url is not a file:\/\/ URL/,
    ],
    [
      "no ServiceAccount to use",
      "serviceAccount:\n  create: false\n",
      /serviceAccount.name is required when serviceAccount.create is false/,
    ],
  ])("%s", (name, values, message) => {
    const file = join(dir, `${name.replaceAll(" ", "-")}.yaml`);
    writeFileSync(file, values);
    const r = helm(["template", "demo", CHART, "--kube-version", KUBE_VERSION, "-f", file]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });
});

test("the README's values table names every value in values.yaml", () => {
  const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Record<string, unknown>;
  const readme = readFileSync(join(CHART, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("## Values"), readme.indexOf("## Uninstall"));
  // Leaves of the values tree: the schema says which objects are structured (have properties);
  // free maps such as labels or resources are one value each.
  interface Schema {
    properties?: Record<string, Schema>;
  }
  const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as Schema;
  const leaves = (o: Record<string, unknown>, s: Schema, prefix: string): string[] =>
    Object.entries(o).flatMap(([k, v]) => {
      const sub = s.properties?.[k];
      return sub?.properties && v && typeof v === "object"
        ? leaves(v as Record<string, unknown>, sub, `${prefix}${k}.`)
        : [`${prefix}${k}`];
    });
  const missing = leaves(values, schema, "").filter((path) => {
    const last = path.split(".").pop() ?? path;
    // A row may name several keys of one object: `a.b`, `.c` or `c` after the first.
    return !table.includes(`\`${path}\``) && !new RegExp(`\`\\.?${last}\``).test(table);
  });
  expect(missing).toEqual([]);
});
