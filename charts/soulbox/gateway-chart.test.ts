/**
 * The chart's gateway, rendered without a cluster: its Deployment carries the flags the gateway
 * reads (values → args), runs from the operator image with the kit's node, serves HTTPS only with
 * a certificate (a Secret or cert-manager's), is hardened like the operator, has exactly the
 * least-privilege RBAC it needs (read Sandboxes everywhere, manage them in team namespaces only,
 * its own keys Secret by name), gives every team the template ConfigMaps the operator reads, and
 * refuses bad gateway values with a message that names them. Installing it is
 * chart-install.test.ts; the operator's part is chart.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { resolveTemplate } from "../../api/template.js";
import { sandboxFixture } from "../../api/test-support/fixtures.js";
import type { K8sObject } from "./helm.js";
import { CHART, KUBE_VERSION, helm, ofKind, render } from "./helm.js";

const NAMESPACE = "soulbox-system";
const GATEWAY = "demo-soulbox-gateway";

const isGateway = (o: K8sObject): boolean =>
  o.metadata.labels?.["app.kubernetes.io/component"] === "gateway";

/** The gateway's objects of a rendering with these `--set` pairs. */
function renderGateway(sets: string[] = []): K8sObject[] {
  return render(sets).filter(isGateway);
}

/** The one object of a kind and name; throws when it is not there. */
function named<T>(objects: K8sObject[], kind: string, name: string, namespace?: string): T {
  const found = objects.filter(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, rendered ${found.length}`);
  return found[0] as unknown as T;
}

function gateway(objects: K8sObject[]): {
  deploy: k8s.V1Deployment;
  container: k8s.V1Container;
} {
  const deploy = named<k8s.V1Deployment>(objects, "Deployment", GATEWAY);
  const containers = deploy.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return { deploy, container: containers[0] as k8s.V1Container };
}

/** The container's arguments as flag → value (each flag of the gateway takes one value). */
function flags(container: k8s.V1Container): Record<string, string> {
  const args = container.args ?? [];
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i] ?? "";
    expect(name).toMatch(/^--[a-z-]+$/);
    out[name] = args[i + 1] ?? "";
  }
  return out;
}

/** Every (group, resource, verb, name) a set of rules grants, one string each. */
function grants(rules: k8s.V1PolicyRule[] = []): string[] {
  return rules
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) =>
          r.verbs.flatMap((v) =>
            (r.resourceNames?.length ? r.resourceNames : ["*"]).map(
              (n) => `${g || "core"}/${res}:${v}@${n}`,
            ),
          ),
        ),
      ),
    )
    .sort();
}

describe("helm lint with the gateway", () => {
  test.each([
    ["TLS from a Secret", ["gateway.tls.secretName=gw-tls"]],
    [
      "cert-manager, two teams, a ServiceMonitor and a fixed cluster IP",
      [
        "gateway.tls.certManager.enabled=true",
        "gateway.tls.certManager.issuerRef.name=ca",
        "gateway.teams={team-a,team-b}",
        "serviceMonitor.enabled=true",
        "gateway.service.clusterIP=10.96.0.80",
      ],
    ],
    ["no gateway", ["gateway.enabled=false"]],
  ])("is clean in strict mode with %s", (_name, sets) => {
    const r = helm([
      "lint",
      "--strict",
      CHART,
      "--kube-version",
      KUBE_VERSION,
      ...sets.flatMap((s) => ["--set", s]),
    ]);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(r.status).toBe(0);
  });
});

describe("the gateway with the default values", () => {
  const objects = renderGateway();

  test("renders the gateway's objects, with the team's RoleBinding and template in default", () => {
    const kinds = objects
      .map((o) => `${o.kind}/${o.metadata.namespace ?? "-"}/${o.metadata.name}`)
      .sort();
    expect(kinds).toEqual([
      `ClusterRole/-/${GATEWAY}`,
      `ClusterRole/-/${GATEWAY}-team`,
      `ClusterRoleBinding/-/${GATEWAY}`,
      "ConfigMap/default/soulbox-template-base",
      "ConfigMap/default/soulbox-template-code-interpreter-v1",
      `Deployment/${NAMESPACE}/${GATEWAY}`,
      `Role/${NAMESPACE}/${GATEWAY}-api-keys`,
      `RoleBinding/default/${GATEWAY}`,
      `RoleBinding/${NAMESPACE}/${GATEWAY}-api-keys`,
      `Service/${NAMESPACE}/${GATEWAY}`,
      `Service/${NAMESPACE}/${GATEWAY}-metrics`,
      `ServiceAccount/${NAMESPACE}/${GATEWAY}`,
    ]);
    // The chart never makes the keys Secret: an upgrade must not wipe keys.
    expect(ofKind(render(), "Secret")).toEqual([]);
    expect(ofKind(objects, "Certificate")).toEqual([]);
  });

  test("2 replicas run the operator image's gateway with the documented flags, HTTPS off", () => {
    const { deploy, container } = gateway(objects);
    expect(deploy.spec?.replicas).toBe(2);
    expect(container.image).toBe("localhost/soulbox/operator:latest");
    expect(container.command).toEqual([
      "/opt/soulbox/kit/ld.so",
      "--library-path",
      "/opt/soulbox/kit/lib",
      "/opt/soulbox/kit/node",
      "/opt/soulbox/gateway.mjs",
    ]);
    expect(flags(container)).toEqual({
      "--http-port": "8080",
      "--https-port": "0",
      "--domain": "soulbox.test",
      "--health-port": "8081",
      "--namespace": NAMESPACE,
      "--api-keys-secret": "soulbox-gateway-api-keys",
      "--default-timeout-seconds": "300",
      "--max-timeout-seconds": "86400",
      "--create-timeout-seconds": "120",
      "--rate-limit": "20",
      "--rate-burst": "40",
      "--max-body-bytes": "1048576",
      "--log-level": "info",
      "--memory-pause": "Freeze",
      "--volume-storage-class": "",
      "--volume-access-mode": "ReadWriteOnce",
      "--volume-size": "1Gi",
      "--volume-content-template": "base",
      "--volume-content-idle-seconds": "300",
    });
    expect(container.ports).toEqual([
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "health", containerPort: 8081, protocol: "TCP" },
    ]);
    expect(deploy.spec?.template.spec?.volumes?.map((v) => v.name)).toEqual(["tmp"]);
    expect(deploy.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  test("probes on the health port; hardened like the operator", () => {
    const { deploy, container } = gateway(objects);
    expect(container.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "health" });
    const pod = deploy.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe(GATEWAY);
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
    expect(container.resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { memory: "512Mi" },
    });
  });

  test("the Services: the front door on 80, metrics apart, both selecting the gateway pods only", () => {
    const { deploy } = gateway(objects);
    const front = named<k8s.V1Service>(objects, "Service", GATEWAY);
    expect(front.spec?.type).toBe("ClusterIP");
    expect(front.spec?.clusterIP).toBeUndefined();
    expect(front.spec?.ports).toEqual([
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
    ]);
    const metrics = named<k8s.V1Service>(objects, "Service", `${GATEWAY}-metrics`);
    expect(metrics.spec?.ports).toEqual([
      { name: "metrics", port: 8081, targetPort: "health", protocol: "TCP" },
    ]);
    for (const svc of [front, metrics]) {
      expect(svc.spec?.selector).toEqual(deploy.spec?.selector.matchLabels);
      expect(svc.spec?.selector?.["app.kubernetes.io/component"]).toBe("gateway");
    }
    // The operator's pods never serve the gateway's Services.
    const op = named<k8s.V1Deployment>(render(), "Deployment", "demo-soulbox-operator");
    expect(op.spec?.template.metadata?.labels?.["app.kubernetes.io/component"]).toBe("operator");
  });

  test("RBAC: read Sandboxes everywhere, manage them in team namespaces, the keys Secret by name", () => {
    const subject = { kind: "ServiceAccount", name: GATEWAY, namespace: NAMESPACE };
    const read = named<k8s.V1ClusterRole>(objects, "ClusterRole", GATEWAY);
    expect(grants(read.rules)).toEqual(
      ["get", "list", "watch"].map((v) => `soulbox.dev/sandboxes:${v}@*`).sort(),
    );
    const crb = named<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding", GATEWAY);
    expect(crb.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: GATEWAY,
    });
    expect(crb.subjects).toEqual([subject]);

    const team = named<k8s.V1ClusterRole>(objects, "ClusterRole", `${GATEWAY}-team`);
    expect(grants(team.rules)).toEqual(
      [
        ...["create", "patch", "update", "delete"].map((v) => `soulbox.dev/sandboxes:${v}@*`),
        ...["get", "list", "create", "patch", "delete"].map((v) => `soulbox.dev/snapshots:${v}@*`),
        ...["get", "create", "delete", "patch"].map((v) => `core/secrets:${v}@*`),
        // Templates: read one for a create, list them for GET /templates.
        ...["get", "list"].map((v) => `core/configmaps:${v}@*`),
        "core/pods:get@*",
        "core/pods/log:get@*",
        // E2B volumes are PersistentVolumeClaims in the team namespace.
        ...["get", "list", "create", "delete"].map((v) => `core/persistentvolumeclaims:${v}@*`),
      ].sort(),
    );
    const rb = named<k8s.V1RoleBinding>(objects, "RoleBinding", GATEWAY, "default");
    expect(rb.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: `${GATEWAY}-team`,
    });
    expect(rb.subjects).toEqual([subject]);

    const keys = named<k8s.V1Role>(objects, "Role", `${GATEWAY}-api-keys`);
    expect(keys.metadata?.namespace).toBe(NAMESPACE);
    expect(grants(keys.rules)).toEqual(
      [
        "core/secrets:create@*",
        ...["get", "list", "watch", "update"].map(
          (v) => `core/secrets:${v}@soulbox-gateway-api-keys`,
        ),
      ].sort(),
    );
    const keysBinding = named<k8s.V1RoleBinding>(
      objects,
      "RoleBinding",
      `${GATEWAY}-api-keys`,
      NAMESPACE,
    );
    expect(keysBinding.roleRef.name).toBe(`${GATEWAY}-api-keys`);
    expect(keysBinding.subjects).toEqual([subject]);
  });

  test("the base template ConfigMap is one the operator accepts, with the sandbox-base image", () => {
    const cm = named<k8s.V1ConfigMap>(objects, "ConfigMap", "soulbox-template-base", "default");
    expect(cm.metadata?.labels?.["soulbox.dev/template"]).toBe("base");
    expect(parse(cm.data?.template ?? "")).toEqual({
      image: "localhost/soulbox/sandbox-base:latest",
    });
    const sandbox = sandboxFixture({
      metadata: { name: "s", namespace: "default" },
      spec: { templateRef: "soulbox-template-base" },
    });
    expect(resolveTemplate(sandbox, cm).image).toBe("localhost/soulbox/sandbox-base:latest");
  });
});

describe("gateway values flow into the rendered objects", () => {
  test.each<[string, string[], Record<string, string>]>([
    ["domain", ["gateway.domain=sbx.example.org"], { "--domain": "sbx.example.org" }],
    ["memory pauses", ["gateway.memoryPause=Memory"], { "--memory-pause": "Memory" }],
    [
      "timeouts",
      [
        "gateway.defaultTimeoutSeconds=60",
        "gateway.maxTimeoutSeconds=3600",
        "gateway.createTimeoutSeconds=30",
      ],
      {
        "--default-timeout-seconds": "60",
        "--max-timeout-seconds": "3600",
        "--create-timeout-seconds": "30",
      },
    ],
    [
      "rate limit, burst and body size",
      ["gateway.rateLimit=5", "gateway.rateBurst=10", "gateway.maxBodyBytes=10485760"],
      { "--rate-limit": "5", "--rate-burst": "10", "--max-body-bytes": "10485760" },
    ],
    ["log level", ["gateway.logLevel=debug"], { "--log-level": "debug" }],
    ["keys Secret", ["gateway.apiKeysSecret=keys"], { "--api-keys-secret": "keys" }],
    [
      "ports",
      ["gateway.ports.http=9080", "gateway.ports.health=9081"],
      { "--http-port": "9080", "--health-port": "9081" },
    ],
  ])("%s", (_name, sets, want) => {
    const got = flags(gateway(renderGateway(sets)).container);
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]))).toEqual(want);
  });

  test("image, replicas, Service type, cluster IP and annotations", () => {
    const objects = renderGateway([
      "gateway.image=images.internal/soulbox/gateway:1.0",
      "gateway.replicaCount=3",
      "gateway.service.type=LoadBalancer",
      "gateway.service.clusterIP=10.96.0.80",
      "gateway.service.annotations.team=edge",
      "gateway.service.ports.http=8000",
    ]);
    const { deploy, container } = gateway(objects);
    expect(container.image).toBe("images.internal/soulbox/gateway:1.0");
    expect(deploy.spec?.replicas).toBe(3);
    const svc = named<k8s.V1Service>(objects, "Service", GATEWAY);
    expect(svc.spec?.type).toBe("LoadBalancer");
    expect(svc.spec?.clusterIP).toBe("10.96.0.80");
    expect(svc.metadata?.annotations).toEqual({ team: "edge" });
    expect(svc.spec?.ports?.[0]?.port).toBe(8000);
  });

  test("the operator image's tag follows image.*", () => {
    const { container } = gateway(
      renderGateway(["image.repository=images.internal/soulbox/operator", "image.tag=0.2.0"]),
    );
    expect(container.image).toBe("images.internal/soulbox/operator:0.2.0");
  });

  test("TLS from a Secret: mounted read-only, --tls-cert/--tls-key, https on 443", () => {
    const objects = renderGateway(["gateway.tls.secretName=gw-tls"]);
    const { deploy, container } = gateway(objects);
    expect(flags(container)).toMatchObject({
      "--https-port": "8443",
      "--tls-cert": "/etc/soulbox/tls/tls.crt",
      "--tls-key": "/etc/soulbox/tls/tls.key",
    });
    expect(container.ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual([
      "http:8080",
      "https:8443",
      "health:8081",
    ]);
    expect(container.volumeMounts).toContainEqual({
      name: "tls",
      mountPath: "/etc/soulbox/tls",
      readOnly: true,
    });
    expect(deploy.spec?.template.spec?.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "gw-tls" },
    });
    const svc = named<k8s.V1Service>(objects, "Service", GATEWAY);
    expect(svc.spec?.ports?.map((p) => `${p.name}:${p.port}->${String(p.targetPort)}`)).toEqual([
      "http:80->http",
      "https:443->https",
    ]);
    expect(ofKind(objects, "Certificate")).toEqual([]);
  });

  test("TLS from cert-manager: a Certificate for *.<domain> and <domain> into the mounted Secret", () => {
    const objects = renderGateway([
      "gateway.domain=sbx.example.org",
      "gateway.tls.certManager.enabled=true",
      "gateway.tls.certManager.issuerRef.name=letsencrypt",
    ]);
    const cert = named<K8sObject & { spec: Record<string, unknown> }>(
      objects,
      "Certificate",
      GATEWAY,
      NAMESPACE,
    );
    expect(cert.apiVersion).toBe("cert-manager.io/v1");
    expect(cert.spec).toEqual({
      secretName: `${GATEWAY}-tls`,
      dnsNames: ["*.sbx.example.org", "sbx.example.org"],
      issuerRef: { name: "letsencrypt", kind: "ClusterIssuer", group: "cert-manager.io" },
    });
    const { deploy, container } = gateway(objects);
    expect(flags(container)["--https-port"]).toBe("8443");
    expect(deploy.spec?.template.spec?.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: `${GATEWAY}-tls` },
    });
    // A named Secret wins: cert-manager writes into it.
    const mine = renderGateway([
      "gateway.tls.certManager.enabled=true",
      "gateway.tls.certManager.issuerRef.name=ca",
      "gateway.tls.certManager.issuerRef.kind=Issuer",
      "gateway.tls.secretName=gw-tls",
    ]);
    expect(
      named<{ spec: { secretName: string } }>(mine, "Certificate", GATEWAY).spec,
    ).toMatchObject({ secretName: "gw-tls", issuerRef: { kind: "Issuer" } });
  });

  test("teams: a RoleBinding and the templates in each, nothing in other namespaces", () => {
    const objects = renderGateway([
      "gateway.teams={team-a,team-b}",
      "gateway.templates.python.image=registry.example/python:3.12",
    ]);
    const rbs = ofKind<k8s.V1RoleBinding>(objects, "RoleBinding")
      .map((rb) => `${rb.metadata?.namespace}/${rb.roleRef.name}`)
      .sort();
    expect(rbs).toEqual([
      `${NAMESPACE}/${GATEWAY}-api-keys`,
      `team-a/${GATEWAY}-team`,
      `team-b/${GATEWAY}-team`,
    ]);
    const cms = ofKind<k8s.V1ConfigMap>(objects, "ConfigMap")
      .map((c) => `${c.metadata?.namespace}/${c.metadata?.name}=${c.data?.template?.trim()}`)
      .sort();
    const interpreter = [
      "command:",
      "- /usr/local/bin/node",
      "- /opt/soulbox/interpreter/code-interpreter.mjs",
      "image: localhost/soulbox/code-interpreter:latest",
    ].join("\n");
    expect(cms).toEqual([
      "team-a/soulbox-template-base=image: localhost/soulbox/sandbox-base:latest",
      `team-a/soulbox-template-code-interpreter-v1=${interpreter}`,
      "team-a/soulbox-template-python=image: registry.example/python:3.12",
      "team-b/soulbox-template-base=image: localhost/soulbox/sandbox-base:latest",
      `team-b/soulbox-template-code-interpreter-v1=${interpreter}`,
      "team-b/soulbox-template-python=image: registry.example/python:3.12",
    ]);
    // No team: no namespace gets anything, the Sandbox reader stays.
    const none = renderGateway(["gateway.teams=null"]);
    expect(ofKind(none, "ConfigMap")).toEqual([]);
    expect(ofKind<k8s.V1RoleBinding>(none, "RoleBinding").map((b) => b.metadata?.name)).toEqual([
      `${GATEWAY}-api-keys`,
    ]);
  });

  test("pools: a SandboxPool of each pooled template in each team; none by default", () => {
    expect(ofKind(renderGateway(), "SandboxPool")).toEqual([]);
    const objects = renderGateway([
      "gateway.teams={team-a,team-b}",
      "gateway.pools.base.minReady=2",
      "gateway.pools.base.maxReady=8",
    ]);
    const pools = ofKind<{ metadata: { name: string; namespace: string }; spec: object }>(
      objects,
      "SandboxPool",
    );
    expect(pools.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort()).toEqual([
      "team-a/base",
      "team-b/base",
    ]);
    expect(pools[0]?.spec).toEqual({
      templateRef: "soulbox-template-base",
      minReady: 2,
      maxReady: 8,
    });
    expect(() => renderGateway(["gateway.pools.python.minReady=1"])).toThrow(
      /gateway.pools.python names no template: add gateway.templates.python/,
    );
  });

  test("the ServiceMonitor scrapes the gateway's metrics Service too", () => {
    const objects = render(["serviceMonitor.enabled=true"]);
    const sm = named<{ spec: { selector: { matchLabels: Record<string, string> } } }>(
      objects,
      "ServiceMonitor",
      GATEWAY,
    );
    const metrics = named<k8s.V1Service>(objects, "Service", `${GATEWAY}-metrics`);
    const front = named<k8s.V1Service>(objects, "Service", GATEWAY);
    const selects = (svc: k8s.V1Service): boolean =>
      Object.entries(sm.spec.selector.matchLabels).every(
        ([k, v]) => svc.metadata?.labels?.[k] === v,
      );
    expect([selects(metrics), selects(front)]).toEqual([true, false]);
  });

  test("gateway.enabled=false renders no gateway object", () => {
    expect(renderGateway(["gateway.enabled=false"])).toEqual([]);
    expect(
      ofKind(render(["gateway.enabled=false", "serviceMonitor.enabled=true"]), "ServiceMonitor"),
    ).toHaveLength(1);
  });
});

describe("bad gateway values are refused with a message that names them", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "soulbox-gateway-chart-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test.each<[string, string, RegExp]>([
    ["a misspelt key", "gateway:\n  replicas: 2\n", /at '\/gateway': additional properties/],
    ["a domain with a capital", "gateway:\n  domain: Soulbox.test\n", /at '\/gateway\/domain'/],
    ["a one-label domain", "gateway:\n  domain: localhost\n", /at '\/gateway\/domain'/],
    ["a bad team namespace", "gateway:\n  teams: [Team_A]\n", /at '\/gateway\/teams\/0'/],
    ["a team twice", "gateway:\n  teams: [a, a]\n", /at '\/gateway\/teams'/],
    ["a zero rate", "gateway:\n  rateLimit: 0\n", /at '\/gateway\/rateLimit'/],
    [
      "a fractional rate",
      "gateway:\n  rateLimit: 2.5\n",
      /at .\/gateway\/rateLimit.: got number, want integer/,
    ],
    [
      "a create wait over an hour",
      "gateway:\n  createTimeoutSeconds: 7200\n",
      /at .\/gateway\/createTimeoutSeconds.: maximum/,
    ],
    ["a timeout as a word", "gateway:\n  maxTimeoutSeconds: day\n", /maxTimeoutSeconds/],
    ["a memory pause mode in lower case", "gateway:\n  memoryPause: memory\n", /memoryPause/],
    ["a port out of range", "gateway:\n  ports:\n    https: 0\n", /at '\/gateway\/ports\/https'/],
    [
      "a pool with a misspelt key",
      "gateway:\n  pools:\n    base: {min: 2}\n",
      /at '\/gateway\/pools\/base': additional properties/,
    ],
    [
      "a pool with a negative size",
      "gateway:\n  pools:\n    base: {minReady: -1}\n",
      /at '\/gateway\/pools\/base\/minReady'/,
    ],
    [
      "a template without an image",
      "gateway:\n  templates:\n    py: {command: [python]}\n",
      /at '\/gateway\/templates\/py': missing property 'image'/,
    ],
    [
      "an unknown issuer kind",
      "gateway:\n  tls:\n    certManager:\n      issuerRef: {kind: Vault}\n",
      /at '\/gateway\/tls\/certManager\/issuerRef\/kind'/,
    ],
    [
      "a default timeout over the maximum",
      "gateway:\n  defaultTimeoutSeconds: 600\n  maxTimeoutSeconds: 300\n",
      /gateway.defaultTimeoutSeconds \(600\) is over gateway.maxTimeoutSeconds \(300\)/,
    ],
    [
      "one port twice",
      "gateway:\n  ports:\n    http: 8081\n",
      /gateway.ports.http, .https and .health must be three different ports/,
    ],
    [
      "cert-manager without an issuer",
      "gateway:\n  tls:\n    certManager:\n      enabled: true\n",
      /gateway.tls.certManager.issuerRef.name is empty/,
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
