/**
 * The node agent's part of the chart (templates/node-agent.yaml): rendered only with object
 * storage, on the host network and privileged, with the node's containerd and kubelet paths
 * mounted where the host has them, its token shared with the operator, its serving certificate
 * checked by the operator (TLS, on by default), and bad paths refused.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { NODE_AGENT_TLS_NAME } from "../../api/node-agent.js";
import { CHART, KUBE_VERSION, helm, ofKind, render } from "./helm.js";

const STORE = "storage.url=s3://bucket/snapshots";
const agentOf = (objects: ReturnType<typeof render>) =>
  ofKind<k8s.V1DaemonSet>(objects, "DaemonSet").find(
    (d) => d.metadata?.labels?.["app.kubernetes.io/component"] === "node-agent",
  );
const operatorOf = (objects: ReturnType<typeof render>) =>
  ofKind<k8s.V1Deployment>(objects, "Deployment").find(
    (d) => d.metadata?.labels?.["app.kubernetes.io/component"] !== "gateway",
  );

test("without object storage there is no node agent, and the operator is not told of one", () => {
  const objects = render();
  expect(agentOf(objects)).toBeUndefined();
  const container = operatorOf(objects)?.spec?.template.spec?.containers[0];
  expect(container?.args).not.toContain("--node-agent-port");
  expect(container?.env?.map((e) => e.name)).not.toContain("SOULBOX_NODE_AGENT_TOKEN_FILE");
});

test("with storage: a privileged host-network DaemonSet on the node's paths, sharing its token with the operator", () => {
  const objects = render([
    STORE,
    "nodeAgent.port=9555",
    "nodeAgent.paths.containerdState=/state/containerd",
    "nodeAgent.paths.kubeletRoot=/state/kubelet",
  ]);
  const ds = agentOf(objects);
  const spec = ds?.spec?.template.spec;
  expect(spec?.hostNetwork).toBe(true);
  expect(spec?.automountServiceAccountToken).toBe(false);
  const agent = spec?.containers[0];
  expect(agent?.securityContext?.privileged).toBe(true);
  expect(agent?.args).toEqual(
    expect.arrayContaining([
      "--port",
      "9555",
      "--containerd-state",
      "/state/containerd",
      "--kubelet-root",
      "/state/kubelet",
    ]),
  );
  const mounts = new Map(agent?.volumeMounts?.map((m) => [m.mountPath, m]));
  for (const path of ["/state/containerd", "/var/lib/containerd", "/state/kubelet"])
    expect(mounts.get(path)?.mountPropagation).toBe("HostToContainer");
  expect(agent?.env).toEqual(
    expect.arrayContaining([
      { name: "SOULBOX_NODE_AGENT_TOKEN_FILE", value: "/etc/soulbox/node-agent/token" },
      { name: "SOULBOX_STORAGE_URL", value: "s3://bucket/snapshots" },
    ]),
  );
  const secret = ofKind<k8s.V1Secret>(objects, "Secret").find(
    (s) => s.metadata?.name === "demo-soulbox-node-agent",
  );
  expect(Buffer.from(secret?.data?.token ?? "", "base64").length).toBe(48);

  const operator = operatorOf(objects)?.spec?.template.spec;
  const container = operator?.containers[0];
  expect(container?.args).toEqual(expect.arrayContaining(["--node-agent-port", "9555"]));
  expect(container?.env).toEqual(
    expect.arrayContaining([
      { name: "SOULBOX_NODE_AGENT_TOKEN_FILE", value: "/etc/soulbox/node-agent/token" },
    ]),
  );
  expect(operator?.volumes?.find((v) => v.name === "node-agent-token")?.secret?.secretName).toBe(
    "demo-soulbox-node-agent",
  );
});

test("TLS (the default): the agent serves a chart-made certificate for soulbox-node-agent, and the operator checks it with the chart-made CA", () => {
  const objects = render([STORE]);
  const secret = ofKind<k8s.V1Secret>(objects, "Secret").find(
    (s) => s.metadata?.name === "demo-soulbox-node-agent",
  );
  const pem = (key: string) => Buffer.from(secret?.data?.[key] ?? "", "base64").toString();
  const ca = new X509Certificate(pem("ca.crt"));
  const leaf = new X509Certificate(pem("tls.crt"));
  expect(ca.ca).toBe(true);
  expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.checkHost(NODE_AGENT_TLS_NAME)).toBe(NODE_AGENT_TLS_NAME);
  expect(leaf.checkPrivateKey(createPrivateKey(pem("tls.key")))).toBe(true);
  const agent = agentOf(objects)?.spec?.template.spec?.containers[0];
  expect(agent?.args).toEqual(
    expect.arrayContaining([
      "--tls-cert",
      "/etc/soulbox/node-agent/tls.crt",
      "--tls-key",
      "/etc/soulbox/node-agent/tls.key",
    ]),
  );
  expect(agent?.readinessProbe?.httpGet?.scheme).toBe("HTTPS");
  const operator = operatorOf(objects)?.spec?.template.spec?.containers[0];
  expect(operator?.args).toEqual(
    expect.arrayContaining(["--node-agent-ca", "/etc/soulbox/node-agent/ca.crt"]),
  );
});

test("nodeAgent.tls.enabled=false: plain HTTP on both ends, no certificate", () => {
  const objects = render([STORE, "nodeAgent.tls.enabled=false"]);
  const secret = ofKind<k8s.V1Secret>(objects, "Secret").find(
    (s) => s.metadata?.name === "demo-soulbox-node-agent",
  );
  expect(Object.keys(secret?.data ?? {})).toEqual(["token"]);
  const agent = agentOf(objects)?.spec?.template.spec?.containers[0];
  expect(agent?.args).not.toContain("--tls-cert");
  expect(agent?.readinessProbe?.httpGet?.scheme).toBe("HTTP");
  expect(operatorOf(objects)?.spec?.template.spec?.containers[0]?.args).not.toContain(
    "--node-agent-ca",
  );
});

test("nodeAgent.enabled=false leaves it out even with storage", () => {
  expect(agentOf(render([STORE, "nodeAgent.enabled=false"]))).toBeUndefined();
});

test.each([
  [
    "a relative containerd state path",
    "nodeAgent.paths.containerdState=run/containerd",
    /containerdState/,
  ],
  ["a port out of range", "nodeAgent.port=70000", /nodeAgent\/port/],
  ["a tiny cache", "nodeAgent.cache.maxBytes=10", /maxBytes/],
])("%s is refused", (_, set, message) => {
  const r = helm([
    "template",
    "demo",
    CHART,
    "--kube-version",
    KUBE_VERSION,
    "--set",
    STORE,
    "--set",
    set,
  ]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(message);
});

test("with Memory on: host pid, containerd's ctr and socket, the kubelet at the node's address with a token that may only checkpoint", () => {
  const objects = render([
    STORE,
    "nodeAgent.memory.enabled=true",
    "nodeAgent.memory.ctr=/opt/bin/ctr",
    "nodeAgent.memory.kubeletPort=10255",
  ]);
  const spec = agentOf(objects)?.spec?.template.spec;
  expect(spec?.hostPID).toBe(true);
  expect(spec?.automountServiceAccountToken).toBe(true);
  expect(spec?.serviceAccountName).toBe("demo-soulbox-node-agent");
  const agent = spec?.containers[0];
  const args = agent?.args ?? [];
  const flag = (name: string) => args[args.indexOf(name) + 1];
  expect(flag("--ctr")).toBe("/opt/bin/ctr");
  expect(flag("--containerd-address")).toBe("/run/containerd/containerd.sock");
  expect(flag("--kubelet-url")).toBe("https://$(SOULBOX_NODE_IP):10255");
  expect(flag("--kubelet-token-file")).toBe("/var/run/secrets/kubernetes.io/serviceaccount/token");
  expect(agent?.env).toEqual(
    expect.arrayContaining([
      { name: "SOULBOX_NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
    ]),
  );
  const volumes = new Map(spec?.volumes?.map((v) => [v.name, v.hostPath]));
  expect(volumes.get("ctr")).toEqual({ path: "/opt/bin/ctr", type: "File" });
  expect(volumes.get("containerd-socket")).toEqual({
    path: "/run/containerd/containerd.sock",
    type: "Socket",
  });
  const role = ofKind<k8s.V1ClusterRole>(objects, "ClusterRole").find(
    (r) => r.metadata?.name === "demo-soulbox-node-agent-checkpoint",
  );
  expect(role?.rules).toEqual([
    { apiGroups: [""], resources: ["nodes/checkpoint"], verbs: ["create"] },
  ]);
  const binding = ofKind<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding").find(
    (b) => b.metadata?.name === "demo-soulbox-node-agent-checkpoint",
  );
  expect(binding?.subjects).toEqual([
    { kind: "ServiceAccount", name: "demo-soulbox-node-agent", namespace: expect.any(String) },
  ]);
});

test("Memory off (the default): no ServiceAccount token, no host pid, no checkpoint role", () => {
  const objects = render([STORE]);
  const spec = agentOf(objects)?.spec?.template.spec;
  expect(spec?.hostPID).toBeUndefined();
  expect(spec?.automountServiceAccountToken).toBe(false);
  expect(spec?.containers[0]?.args).not.toContain("--ctr");
  expect(
    ofKind<k8s.V1ClusterRole>(objects, "ClusterRole").map((r) => r.metadata?.name),
  ).not.toContain("demo-soulbox-node-agent-checkpoint");
});

test.each([
  ["nodeAgent.memory.ctr=ctr"],
  ["nodeAgent.memory.kubeletPort=0"],
  ["nodeAgent.memory.kubeletCaFile=ca.crt"],
])("the schema refuses %s", (value) => {
  expect(() => render([STORE, "nodeAgent.memory.enabled=true", value])).toThrow();
});

const envOf = (c: k8s.V1Container | undefined, name: string) =>
  c?.env?.find((e) => e.name === name)?.value;

// The agent writes as root; the operator (not root) deletes Snapshots' objects: on a file:// store
// the agent gives what it writes to the operator's user.
test.each([
  ["file://, default operator user", [], "file:///var/lib/soulbox/snapshots?owner=65532:65532"],
  [
    "file://, another operator user",
    ["podSecurityContext.runAsUser=1000", "podSecurityContext.runAsGroup=2000"],
    "file:///var/lib/soulbox/snapshots?owner=1000:2000",
  ],
])("%s: the agent's store URL names the operator's user as owner", (_what, sets, want) => {
  const objects = render([
    "storage.url=file:///var/lib/soulbox/snapshots",
    "storage.pvc.claimName=snapshots",
    ...sets,
  ]);
  expect(envOf(agentOf(objects)?.spec?.template.spec?.containers[0], "SOULBOX_STORAGE_URL")).toBe(
    want,
  );
  expect(
    envOf(operatorOf(objects)?.spec?.template.spec?.containers[0], "SOULBOX_STORAGE_URL"),
  ).toBe("file:///var/lib/soulbox/snapshots");
});
