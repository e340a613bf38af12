import { dumpYaml, type V1NetworkPolicyPeer } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { containsCidr, parseCidr, type Cidr } from "../../../api/cidr.js";
import { desiredNetworkPolicy } from "./desired-network-policy.js";

const sandbox = (allowEgress?: string[]): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "sb1", namespace: "team-a", uid: "u-1" },
  spec: { template: { image: "x" }, ...(allowEgress ? { network: { allowEgress } } : {}) },
});

/** The peers of the non-DNS egress rule, or [] when there is none. */
const allowed = (allowEgress?: string[]): V1NetworkPolicyPeer[] => {
  const egress = desiredNetworkPolicy(sandbox(allowEgress)).policy.spec?.egress ?? [];
  expect(egress.length).toBeLessThanOrEqual(2);
  return egress[1]?.to ?? [];
};

const block = (cidr: string, except?: string[]): V1NetworkPolicyPeer => ({
  ipBlock: { cidr, ...(except ? { except } : {}) },
});

const V4_DEFAULT = block("0.0.0.0/0", [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
]);
const V6_DEFAULT = block("::/0", ["fc00::/7", "fe80::/10"]);

describe("desiredNetworkPolicy", () => {
  test("the whole policy for a sandbox without an allow-list", () => {
    expect(desiredNetworkPolicy(sandbox())).toEqual({
      unenforced: [],
      refused: [],
      policy: {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: {
          name: "sb1",
          namespace: "team-a",
          labels: {
            "soulbox.dev/sandbox": "sb1",
            "soulbox.dev/component": "network-policy",
            "app.kubernetes.io/managed-by": "soulbox-operator",
          },
          ownerReferences: [
            {
              apiVersion: "soulbox.dev/v1alpha1",
              kind: "Sandbox",
              name: "sb1",
              uid: "u-1",
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          podSelector: { matchLabels: { "soulbox.dev/sandbox": "sb1" } },
          policyTypes: ["Ingress", "Egress"],
          ingress: [
            {
              _from: [
                {
                  namespaceSelector: {},
                  podSelector: {
                    matchExpressions: [{ key: "soulbox.dev/sandbox", operator: "DoesNotExist" }],
                  },
                },
              ],
            },
          ],
          egress: [
            {
              to: [
                { namespaceSelector: {} },
                block("0.0.0.0/0", ["169.254.169.254/32"]),
                block("::/0", ["fd00:ec2::254/128"]),
              ],
              ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
              ],
            },
            { to: [V4_DEFAULT, V6_DEFAULT] },
          ],
        },
      },
    });
  });

  test.each<[string, string[] | undefined, V1NetworkPolicyPeer[]]>([
    [
      "no allow-list: the internet minus private and link-local",
      undefined,
      [V4_DEFAULT, V6_DEFAULT],
    ],
    ["an empty allow-list: DNS only", [], []],
    ["an IPv4 address is a /32", ["203.0.113.7"], [block("203.0.113.7/32")]],
    ["an IPv6 address is a /128", ["2001:DB8::7"], [block("2001:db8::7/128")]],
    ["a public CIDR as is", ["203.0.113.0/24"], [block("203.0.113.0/24")]],
    ["host bits are cleared", ["203.0.113.9/24"], [block("203.0.113.0/24")]],
    ["0.0.0.0/0 does not open private ranges", ["0.0.0.0/0"], [V4_DEFAULT]],
    ["a private range named exactly is open", ["10.0.0.0/8"], [block("10.0.0.0/8")]],
    ["a CIDR inside a private range is open", ["10.1.0.0/16"], [block("10.1.0.0/16")]],
    [
      "a CIDR wider than a private range cuts it out",
      ["8.0.0.0/6"],
      [block("8.0.0.0/6", ["10.0.0.0/8"])],
    ],
    [
      "a CIDR covering link-local cuts it out",
      ["169.0.0.0/8"],
      [block("169.0.0.0/8", ["169.254.0.0/16"])],
    ],
    [
      "an allowed private IPv6 range still cuts out the metadata address",
      ["fd00::/8"],
      [block("fd00::/8", ["fd00:ec2::254/128"])],
    ],
    [
      "fc00::/7 itself cuts out the metadata address",
      ["fc00::/7"],
      [block("fc00::/7", ["fd00:ec2::254/128"])],
    ],
    ["duplicates collapse", ["1.1.1.1", "1.1.1.1/32"], [block("1.1.1.1/32")]],
    ["order is kept", ["9.9.9.9", "1.1.1.1"], [block("9.9.9.9/32"), block("1.1.1.1/32")]],
    ["hostnames alone: DNS only", ["example.com", "*.example.org"], []],
  ])("%s", (_name, allowEgress, expected) => {
    expect(allowed(allowEgress)).toEqual(expected);
  });

  test.each<[string, string[], string[], string[]]>([
    [
      "hostnames are unenforced",
      ["1.1.1.1", "example.com", "*.mirror.example.net"],
      ["example.com", "*.mirror.example.net"],
      [],
    ],
    ["the metadata address is refused", ["169.254.169.254"], [], ["169.254.169.254"]],
    [
      "a link-local range is refused",
      ["169.254.0.0/16", "fe80::1"],
      [],
      ["169.254.0.0/16", "fe80::1"],
    ],
    ["the IPv6 metadata address is refused", ["fd00:ec2::254"], [], ["fd00:ec2::254"]],
    [
      "an IPv4-mapped metadata address is refused",
      ["::ffff:169.254.169.254"],
      [],
      ["::ffff:169.254.169.254"],
    ],
    ["garbage is refused", ["not a host!", "10.0.0.0/33"], [], ["not a host!", "10.0.0.0/33"]],
  ])("%s", (_name, allowEgress, unenforced, refused) => {
    const got = desiredNetworkPolicy(sandbox(allowEgress));
    expect(got.unenforced).toEqual(unenforced);
    expect(got.refused).toEqual(refused);
  });

  test.each<[string[] | undefined]>([
    [undefined],
    [["0.0.0.0/0", "::/0"]],
    [["169.0.0.0/8", "128.0.0.0/1", "fd00::/8", "fd00:ec2::/32", "fc00::/7", "8000::/1"]],
  ])("no allowed peer reaches a link-local or metadata address (%j)", (list) => {
    const never = ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1"].map(parse);
    for (const peer of allowed(list)) {
      const cidr = parse(peer.ipBlock?.cidr ?? "");
      const except = (peer.ipBlock?.except ?? []).map(parse);
      for (const addr of never)
        if (containsCidr(cidr, addr)) expect(except.some((e) => containsCidr(e, addr))).toBe(true);
    }
  });
});

function parse(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`${text} must parse`);
  return c;
}

test("the policy survives client-node's serializer (its name for `from` is `_from`)", () => {
  const { policy } = desiredNetworkPolicy(sandbox(["1.1.1.1"]));
  const wire = parseYaml(dumpYaml(policy)) as unknown;
  const expected = JSON.parse(JSON.stringify(policy).replaceAll('"_from":', '"from":')) as unknown;
  expect(wire).toEqual(expected);
});

describe("desiredNetworkPolicy with denyEgress (E2B's denyOut)", () => {
  const peersOf = (network: { allowEgress?: string[]; denyEgress?: string[] }) => {
    const sb = sandbox();
    sb.spec.network = network;
    const got = desiredNetworkPolicy(sb);
    return { peers: got.policy.spec?.egress?.[1]?.to ?? [], refused: got.refused };
  };
  const V4_PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"];

  test.each<[string, { allowEgress?: string[]; denyEgress?: string[] }, V1NetworkPolicyPeer[]]>([
    ["an empty deny-list is the default", { denyEgress: [] }, [V4_DEFAULT, V6_DEFAULT]],
    [
      "a denied address is cut out of the default",
      { denyEgress: ["8.8.8.8"] },
      [block("0.0.0.0/0", [...V4_PRIVATE, "169.254.0.0/16", "8.8.8.8/32"]), V6_DEFAULT],
    ],
    ["denying everything leaves no default", { denyEgress: ["0.0.0.0/0", "::/0"] }, []],
    [
      "an allowed entry wins over a denied one",
      { allowEgress: ["10.104.0.1"], denyEgress: ["0.0.0.0/0", "::/0", "10.104.0.1"] },
      [block("10.104.0.1/32")],
    ],
    [
      "allowing a private address keeps the default (internet) reach",
      { allowEgress: ["10.104.0.1"], denyEgress: [] },
      [V4_DEFAULT, V6_DEFAULT, block("10.104.0.1/32")],
    ],
    [
      "an allowed 0.0.0.0/0 wins over a denied address inside it",
      { allowEgress: ["0.0.0.0/0"], denyEgress: ["8.8.8.8/32"] },
      [V4_DEFAULT, V6_DEFAULT],
    ],
    [
      "a denied range inside a private range adds nothing",
      { denyEgress: ["10.1.0.0/16"] },
      [V4_DEFAULT, V6_DEFAULT],
    ],
    [
      "a denied range covering a private range replaces it in except",
      { denyEgress: ["8.0.0.0/6"] },
      [
        block("0.0.0.0/0", [
          "172.16.0.0/12",
          "192.168.0.0/16",
          "100.64.0.0/10",
          "169.254.0.0/16",
          "8.0.0.0/6",
        ]),
        V6_DEFAULT,
      ],
    ],
    [
      "allowing the link-local range opens nothing",
      { allowEgress: ["169.254.0.0/15"], denyEgress: ["0.0.0.0/0", "::/0"] },
      [block("169.254.0.0/15", ["169.254.0.0/16"])],
    ],
  ])("%s", (_name, network, expected) => {
    expect(peersOf(network).peers).toEqual(expected);
  });

  test("a deny entry that is no CIDR is refused, the rest applies", () => {
    expect(peersOf({ denyEgress: ["example.com", "8.8.8.8"] })).toEqual({
      peers: [block("0.0.0.0/0", [...V4_PRIVATE, "169.254.0.0/16", "8.8.8.8/32"]), V6_DEFAULT],
      refused: ["example.com"],
    });
  });
});
