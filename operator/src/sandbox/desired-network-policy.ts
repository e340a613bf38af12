/**
 * The sandbox's NetworkPolicy. Code in a sandbox is untrusted, and the
 * addresses worth stealing from are inside the cluster's network: other
 * pods and services in private ranges, and the cloud metadata endpoints on
 * link-local addresses that hand out node credentials. So egress is denied
 * there by default and can never be opened to link-local or metadata
 * addresses, whatever the allow-list says.
 *
 * Decisions:
 * - Egress to DNS (UDP and TCP 53) is always allowed, to any pod and to any
 *   address but the metadata endpoints: cluster DNS may be a pod, a private
 *   service IP or a node-local cache on a link-local address, depending on
 *   the cluster.
 * - Ingress is allowed from every pod that is not a sandbox, on every port:
 *   the gateway proxies both envd (49983) and whatever port a user's code
 *   serves (E2B's `getHost(port)`), and it may run in any namespace. Traffic
 *   from other sandboxes is refused, so one sandbox never reaches another
 *   even when its allow-list opens a private range. Traffic from the pod's own
 *   node (kubelet probes) is always allowed by NetworkPolicy semantics.
 * - Hostname entries of `allowEgress` cannot be written into a
 *   NetworkPolicy; they are returned as `unenforced` for a condition and are
 *   not reachable (fail closed) until an egress proxy enforces them.
 * - `denyEgress` (E2B's `denyOut`) is cut out of the default egress as
 *   `except` ranges; `allowEgress` entries are separate peers, and peers add
 *   up, so an allowed entry wins over a denied one, as E2B documents.
 */
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Label, labelValue } from "../../../api/labels.js";
import { containsCidr, formatCidr, parseCidr, sameCidr, type Cidr } from "../../../api/cidr.js";
import { HOSTNAME, LINK_LOCAL, METADATA, PRIVATE, neverReachable } from "../../../api/egress.js";
import { childMetadata } from "./owner.js";

const EVERYWHERE = ["0.0.0.0/0", "::/0"];

/** What {@link desiredNetworkPolicy} returns. */
export interface DesiredNetworkPolicy {
  /** The NetworkPolicy to apply. */
  policy: V1NetworkPolicy;
  /** `allowEgress` hostname entries, which a NetworkPolicy cannot express (not reachable). */
  unenforced: string[];
  /**
   * `allowEgress` entries left out because they are neither CIDR, address nor
   * hostname, or lie wholly in a link-local or metadata range, and
   * `denyEgress` entries that are no CIDR or address (the API server refuses
   * all of these; this guards against a stale CRD).
   */
  refused: string[];
}

/**
 * The NetworkPolicy named after the sandbox, selecting its pod by the
 * sandbox label. Without `spec.network`, egress goes to the whole internet
 * minus private and link-local ranges. With `allowEgress` alone, only to the
 * listed CIDRs and addresses (a bare IP is a /32 or /128). With `denyEgress`
 * (even empty), to the default minus the denied ranges, plus every
 * `allowEgress` entry. Each allowed range has the private ranges it strictly
 * contains, the link-local ranges and the metadata addresses cut out. DNS is
 * always allowed (see the module note).
 */
export function desiredNetworkPolicy(sb: Sandbox): DesiredNetworkPolicy {
  const name = sb.metadata.name ?? "";
  const allow = sb.spec.network?.allowEgress;
  const deny = sb.spec.network?.denyEgress;
  const unenforced: string[] = [];
  const refused: string[] = [];
  const blocks: { cidr: Cidr; except: Cidr[] }[] = [];
  const denied: Cidr[] = [];
  for (const entry of deny ?? []) {
    const cidr = parseCidr(entry);
    if (cidr) denied.push(cidr);
    else refused.push(entry);
  }
  // The default reach, minus what is denied, when there is a deny-list or no allow-list.
  if (deny !== undefined || allow === undefined) {
    for (const entry of EVERYWHERE) {
      const block = ipBlockFor(parseCidr(entry) as Cidr);
      if (block && cutOut(block, denied)) blocks.push(block);
    }
  }
  for (const entry of allow ?? []) {
    const cidr = parseCidr(entry);
    if (!cidr) {
      (HOSTNAME.test(entry) ? unenforced : refused).push(entry);
      continue;
    }
    const block = ipBlockFor(cidr);
    if (!block) {
      refused.push(entry);
      continue;
    }
    // The allowed form replaces a default block of the same range: allowed wins over denied.
    const same = blocks.findIndex((b) => sameCidr(b.cidr, block.cidr));
    if (same < 0) blocks.push(block);
    else blocks[same] = block;
  }

  const egressPeers: V1NetworkPolicyPeer[] = blocks.map((b) => ({
    ipBlock: {
      cidr: formatCidr(b.cidr),
      ...(b.except.length ? { except: b.except.map(formatCidr) } : {}),
    },
  }));
  const dnsPeers: V1NetworkPolicyPeer[] = [
    { namespaceSelector: {} },
    { ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } },
    { ipBlock: { cidr: "::/0", except: ["fd00:ec2::254/128"] } },
  ];

  const policy: V1NetworkPolicy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMetadata(sb, name, "network-policy"),
    spec: {
      podSelector: { matchLabels: { [Label.sandbox]: labelValue(name) } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          // client-node's name for `from` (a reserved word in its generator): its
          // serializer writes `_from` as `from` and silently drops a key named `from`,
          // which would leave a rule that admits everyone.
          _from: [
            {
              namespaceSelector: {},
              podSelector: { matchExpressions: [{ key: Label.sandbox, operator: "DoesNotExist" }] },
            },
          ],
        },
      ],
      egress: [
        {
          to: dnsPeers,
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
        // An egress rule with no peers would allow everything: leave it out when nothing is allowed.
        ...(egressPeers.length ? [{ to: egressPeers }] : []),
      ],
    },
  };
  return { policy, unenforced, refused };
}

/**
 * Cuts the denied ranges out of `block` (as `except` entries, one per range,
 * none inside another); false when a denied range covers the whole block.
 */
function cutOut(block: { cidr: Cidr; except: Cidr[] }, denied: Cidr[]): boolean {
  for (const d of denied) {
    if (containsCidr(d, block.cidr)) return false;
    if (!containsCidr(block.cidr, d) || block.except.some((e) => containsCidr(e, d))) continue;
    block.except = [...block.except.filter((e) => !containsCidr(d, e)), d];
  }
  return true;
}

/**
 * The ipBlock for an allowed range, or undefined when the range lies wholly
 * in a link-local range or is a metadata address.
 */
function ipBlockFor(cidr: Cidr): { cidr: Cidr; except: Cidr[] } | undefined {
  if (neverReachable(cidr)) return undefined;
  const except: Cidr[] = [];
  for (const r of PRIVATE) if (containsCidr(cidr, r) && !sameCidr(cidr, r)) except.push(r);
  for (const r of LINK_LOCAL) if (containsCidr(cidr, r)) except.push(r);
  // A metadata address inside an allowed private range (fd00:ec2::254 in fd00::/8).
  for (const r of METADATA)
    if (containsCidr(cidr, r) && !except.some((e) => containsCidr(e, r))) except.push(r);
  return { cidr, except };
}
