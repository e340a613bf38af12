import { driftedFrom } from "./drift.js";

const policy = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: {
    name: "p",
    labels: { "soulbox.dev/sandbox": "p" },
    ownerReferences: [{ kind: "Sandbox", name: "p", uid: "u-1", controller: true }],
  },
  spec: {
    policyTypes: ["Ingress", "Egress"],
    egress: [
      { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }] },
      { ports: [{ protocol: "UDP", port: 53 }] },
    ],
  },
};
type Policy = typeof policy;
const live = (change: (p: Policy) => void = () => undefined): Policy => {
  const copy = JSON.parse(JSON.stringify(policy)) as Policy;
  change(copy);
  return copy;
};

describe("driftedFrom", () => {
  test.each<[string, unknown, string[]]>([
    ["the same object", live(), []],
    [
      "server additions (defaults, status, metadata, other labels)",
      live((p) => {
        Object.assign(p.metadata, {
          uid: "x",
          resourceVersion: "7",
          labels: { ...p.metadata.labels, audit: "yes" },
        });
        Object.assign(p.spec, { podSelector: {} });
        Object.assign(p, { status: {} });
      }),
      [],
    ],
    [
      "list items without apiVersion and kind",
      live((p) => {
        Object.assign(p, { apiVersion: undefined, kind: undefined });
      }),
      [],
    ],
    [
      "another owner reference added beside ours",
      live((p) =>
        p.metadata.ownerReferences.unshift({ kind: "X", name: "x", uid: "u-2", controller: false }),
      ),
      [],
    ],
    ["an egress rule added", live((p) => p.spec.egress.push({ ports: [] })), ["spec.egress"]],
    ["an egress rule removed", live((p) => p.spec.egress.pop()), ["spec.egress"]],
    [
      "an except range removed",
      live((p) => (p.spec.egress[0]!.to![0]!.ipBlock.except = [])),
      ["spec.egress[0].to[0].ipBlock.except"],
    ],
    [
      "a port changed",
      live((p) => (p.spec.egress[1]!.ports![0]!.port = 54)),
      ["spec.egress[1].ports[0].port"],
    ],
    [
      "rules reordered",
      live((p) => p.spec.egress.reverse()),
      ["spec.egress[0].to", "spec.egress[1].ports"],
    ],
    [
      "a label changed and a policy type dropped",
      live((p) => {
        p.metadata.labels["soulbox.dev/sandbox"] = "q";
        p.spec.policyTypes = ["Ingress"];
      }),
      ["metadata.labels.soulbox.dev/sandbox", "spec.policyTypes"],
    ],
    [
      "our owner reference replaced",
      live((p) => (p.metadata.ownerReferences[0]!.uid = "u-9")),
      ["metadata.ownerReferences"],
    ],
    ["a list where an object is wanted", live((p) => Object.assign(p, { spec: [] })), ["spec"]],
    ["nothing at all", undefined, [""]],
  ])("%s: %j", (_name, liveObject, paths) => {
    expect(driftedFrom(liveObject, policy)).toEqual(paths);
  });

  test("extra tolerations (admission adds some) are not drift; a missing one is", () => {
    const want = { spec: { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists" }] } };
    const added = {
      key: "node.kubernetes.io/not-ready",
      operator: "Exists",
      tolerationSeconds: 300,
    };
    expect(driftedFrom({ spec: { tolerations: [added, ...want.spec.tolerations] } }, want)).toEqual(
      [],
    );
    expect(driftedFrom({ spec: { tolerations: [added] } }, want)).toEqual(["spec.tolerations"]);
  });
});
