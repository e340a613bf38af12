/**
 * Which addresses a sandbox may reach, as far as the gateway (refusing a request) and the operator
 * (writing the NetworkPolicy) must agree: the private ranges a sandbox reaches only when an entry
 * lies inside them, and the link-local and metadata ranges it never reaches. Code in a sandbox is
 * untrusted; the cloud metadata endpoints on link-local addresses hand out node credentials.
 */
import { containsCidr, parseCidr, type Cidr } from "./cidr.js";

/** Ranges a sandbox reaches only when an allow-list entry lies inside them. */
export const PRIVATE_RANGES = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "fc00::/7",
] as const;
/** Ranges a sandbox never reaches (besides DNS to a node-local cache): they hold cloud metadata endpoints. */
export const LINK_LOCAL_RANGES = ["169.254.0.0/16", "fe80::/10"] as const;
/** Cloud metadata endpoints, never reachable, not even for DNS. */
export const METADATA_ADDRESSES = ["169.254.169.254/32", "fd00:ec2::254/128"] as const;
/** A hostname entry of an allow-list: DNS labels, optionally behind `*.`. */
export const HOSTNAME =
  /^([*][.])?[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const parsed = (list: readonly string[]) =>
  list.map((text) => {
    const c = parseCidr(text);
    if (!c) throw new Error(`bad built-in range ${text}`);
    return c;
  });
/** {@link PRIVATE_RANGES}, parsed. */
export const PRIVATE = parsed(PRIVATE_RANGES);
/** {@link LINK_LOCAL_RANGES}, parsed. */
export const LINK_LOCAL = parsed(LINK_LOCAL_RANGES);
/** {@link METADATA_ADDRESSES}, parsed. */
export const METADATA = parsed(METADATA_ADDRESSES);

/**
 * True when the whole range lies in a link-local range or is a metadata address: allowing it
 * would open nothing (such ranges are always cut out), so an allow-list entry like this is refused.
 */
export function neverReachable(c: Cidr): boolean {
  return [...LINK_LOCAL, ...METADATA].some((r) => containsCidr(r, c));
}
