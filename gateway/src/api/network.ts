/**
 * E2B's network options, pure: `network` and `allow_internet_access` of `POST /sandboxes`
 * (`SandboxNetworkConfig`) and the body of `PUT /sandboxes/{id}/network`
 * (`SandboxNetworkUpdateConfig`) become a Sandbox's `spec.network`, or a 400 naming the entry to
 * fix. Egress is enforced by the sandbox's NetworkPolicy (the operator writes it), which matches
 * IP ranges only: a domain name in `allowOut` is refused rather than left unenforced, and a
 * link-local or metadata address is refused because it can never be opened.
 *
 * Also the traffic access token of a sandbox with `allowPublicTraffic: false`: derived from its
 * envd access token (so nothing new is stored and any gateway replica recomputes it), with only
 * its SHA-256 on the Sandbox, where the front door checks the `e2b-traffic-access-token` header.
 */
import { createHash, createHmac } from "node:crypto";
import { parseCidr } from "../../../api/cidr.js";
import { HOSTNAME, neverReachable } from "../../../api/egress.js";
import type { Sandbox, SandboxNetwork } from "../../../api/gen/crd-types.js";
import { badRequest } from "./errors.js";

/** The most entries `allowOut` or `denyOut` may have (the CRD's `maxItems`). */
export const MAX_EGRESS_ENTRIES = 64;
/** The request header that carries a sandbox's traffic access token (E2B's name). */
export const TRAFFIC_TOKEN_HEADER = "e2b-traffic-access-token";
/** Annotation on a Sandbox: the SHA-256 (hex) of its traffic access token. */
export const TRAFFIC_TOKEN_DIGEST_ANNOTATION = "soulbox.dev/traffic-token-sha256";
/** E2B's placeholder in `maskRequestHost` for the port a request goes to. */
export const MASK_PORT_PLACEHOLDER = "${PORT}";

const EVERYTHING = ["0.0.0.0/0", "::/0"];
/** Fields of E2B's network config SoulBox does not implement; refused by name. */
const UNSUPPORTED = ["egressProxy", "rules", "httpsPorts"] as const;

/**
 * `spec.network` for a create request, or undefined for the default (internet, no private or
 * link-local ranges, ports public). E2B's semantics: `allowOut` entries always win over `denyOut`
 * ones; `allow_internet_access: false` is `denyOut: ["0.0.0.0/0"]`.
 */
export function networkForCreate(
  allowInternetAccess: unknown,
  network: unknown,
): SandboxNetwork | undefined {
  const internet = optionalBoolean(allowInternetAccess, "allow_internet_access");
  if (network !== undefined && network !== null && !isRecord(network))
    throw badRequest("network must be an object");
  const net = isRecord(network) ? network : {};
  refuseUnsupported(net, "network");
  const out: SandboxNetwork = { ...egressOf(net.allowOut, net.denyOut, internet) };
  if (optionalBoolean(net.allowPublicTraffic, "network.allowPublicTraffic") === false)
    out.allowPublicTraffic = false;
  const mask = checkMaskRequestHost(net.maskRequestHost);
  if (mask !== undefined) out.maskRequestHost = mask;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `spec.network` after `PUT /sandboxes/{id}/network`: the egress rules are replaced by the body's
 * (a field left out is cleared, as E2B documents); `allowPublicTraffic` and `maskRequestHost`,
 * which the update cannot carry, are kept from `current`.
 */
export function networkForUpdate(
  body: unknown,
  current: SandboxNetwork | undefined,
): SandboxNetwork {
  if (!isRecord(body))
    throw badRequest("the request body must be a JSON object (SandboxNetworkUpdateConfig)");
  refuseUnsupported(body, "the network update");
  const internet = optionalBoolean(body.allow_internet_access, "allow_internet_access");
  const out: SandboxNetwork = { ...egressOf(body.allowOut, body.denyOut, internet) };
  if (current?.allowPublicTraffic !== undefined)
    out.allowPublicTraffic = current.allowPublicTraffic;
  if (current?.maskRequestHost !== undefined) out.maskRequestHost = current.maskRequestHost;
  return out;
}

/**
 * The egress fields: nothing when nothing is restricted or opened; else `denyEgress` always (even
 * empty, so the operator keeps the default reach) and `allowEgress` when there are entries.
 */
function egressOf(
  allowOut: unknown,
  denyOut: unknown,
  internet: boolean | undefined,
): Pick<SandboxNetwork, "allowEgress" | "denyEgress"> {
  const allow = entries(allowOut, "network.allowOut");
  const deny = entries(denyOut, "network.denyOut");
  for (const entry of allow ?? []) checkAllowEntry(entry);
  for (const entry of deny ?? []) checkDenyEntry(entry);
  if (allow === undefined && deny === undefined && internet !== false) return {};
  const denyEgress = unique([...(deny ?? []), ...(internet === false ? EVERYTHING : [])]);
  return { ...(allow?.length ? { allowEgress: unique(allow) } : {}), denyEgress };
}

function checkAllowEntry(entry: string): void {
  const cidr = parseCidr(entry);
  if (cidr) {
    if (neverReachable(cidr))
      throw badRequest(
        `network.allowOut entry "${entry}" is a link-local or cloud metadata address, which a sandbox can never reach`,
      );
    return;
  }
  if (isDomainName(entry))
    throw badRequest(
      `network.allowOut entry "${entry}" is a domain name: SoulBox enforces egress with a Kubernetes NetworkPolicy, which matches IP addresses only, so domain names are refused rather than left open; list the host's addresses (CIDRs) instead`,
    );
  throw badRequest(
    `network.allowOut entry "${entry}" is neither a CIDR (203.0.113.0/24), an IP address nor a domain name`,
  );
}

function checkDenyEntry(entry: string): void {
  if (parseCidr(entry)) return;
  if (isDomainName(entry))
    throw badRequest(
      `network.denyOut entry "${entry}" is a domain name: deny rules take CIDRs and IP addresses only`,
    );
  throw badRequest(
    `network.denyOut entry "${entry}" is neither a CIDR (203.0.113.0/24) nor an IP address`,
  );
}

/**
 * E2B's `maskRequestHost`: a host, optionally with `:port`, in ASCII; `${PORT}` may stand for the
 * port the request goes to.
 */
function checkMaskRequestHost(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badRequest("network.maskRequestHost must be a string");
  const probe = v.replaceAll(MASK_PORT_PLACEHOLDER, "1");
  const ok =
    probe.length <= 253 &&
    /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$/.test(probe) &&
    !probe.includes("..");
  if (!ok) throw badRequest(`mask request host is not valid: ${v}`);
  return v;
}

/** The Host a request to `port` carries upstream under a mask (E2B's `${PORT}` filled in). */
export function maskedHost(mask: string, port: number): string {
  return mask.replaceAll(MASK_PORT_PLACEHOLDER, String(port));
}

function refuseUnsupported(body: Record<string, unknown>, where: string): void {
  for (const field of UNSUPPORTED)
    if (body[field] !== undefined && body[field] !== null)
      throw badRequest(`${where}: ${field} is not supported by SoulBox`);
}

function entries(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.trim() === ""))
    throw badRequest(`${field} must be a list of non-empty strings`);
  const list = (v as string[]).map((x) => x.trim());
  if (list.length > MAX_EGRESS_ENTRIES)
    throw badRequest(`${field} takes at most ${MAX_EGRESS_ENTRIES} entries`);
  return list;
}

function optionalBoolean(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badRequest(`${field} must be true or false`);
  return v;
}

const unique = (list: string[]) => [...new Set(list)];
/** A DNS name (`*.` allowed); a top-level label is never all digits, so `300.1.1.1` is none. */
const isDomainName = (entry: string) =>
  HOSTNAME.test(entry.toLowerCase()) && !/(^|\.)[0-9]+$/.test(entry);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** E2B's `SandboxNetworkConfig` as `GET /sandboxes/{id}` shows it. */
export interface E2bNetwork {
  allowOut?: string[];
  denyOut?: string[];
  allowPublicTraffic: boolean;
  maskRequestHost?: string;
}

/**
 * What `SandboxDetail` says of a sandbox's network, from its `spec.network`: `network` when one
 * was asked for, and `allowInternetAccess: false` when everything not allowed is denied (E2B's
 * null, here absent, means it was never set). `::/0`, which the gateway adds beside 0.0.0.0/0, is
 * left out of `denyOut`.
 */
export function e2bNetworkOf(n: SandboxNetwork | undefined): {
  allowInternetAccess?: false;
  network?: E2bNetwork;
} {
  if (!n) return {};
  const deny = n.denyEgress?.filter((d) => d !== "::/0");
  const network: E2bNetwork = {
    ...(n.allowEgress ? { allowOut: n.allowEgress } : {}),
    ...(deny ? { denyOut: deny } : {}),
    allowPublicTraffic: n.allowPublicTraffic !== false,
    ...(n.maskRequestHost ? { maskRequestHost: n.maskRequestHost } : {}),
  };
  return {
    ...(n.denyEgress?.includes("0.0.0.0/0") ? { allowInternetAccess: false as const } : {}),
    network,
  };
}

/** True when the sandbox serves its own ports only to holders of its traffic access token. */
export function needsTrafficToken(s: Sandbox): boolean {
  return s.spec.network?.allowPublicTraffic === false;
}

/**
 * The traffic access token of sandbox `id`: an HMAC of the id under its envd access token, so
 * the token never changes for the sandbox and reveals nothing of the envd token.
 */
export function trafficAccessToken(envdToken: string, id: string): string {
  return createHmac("sha256", envdToken)
    .update(`e2b-traffic-access-token:${id}`)
    .digest("base64url");
}

/** The SHA-256 (hex) of a token, as the annotation keeps it. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
