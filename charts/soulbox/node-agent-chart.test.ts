/**
 * The node agent's part of the chart (templates/node-agent.yaml): rendered only with object
 * storage, on the host network and privileged, with the node's containerd and kubelet paths
 * mounted where the host has them, its token shared with the operator, and bad paths refused.
 */
import type * as k8s from "@kubernetes/client-node";
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
