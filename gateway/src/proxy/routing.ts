/**
 * Where a request to the front door goes: to a sandbox (by the `E2b-Sandbox-Id` / `E2b-Sandbox-Port`
 * headers, or by a `{port}-{sandboxId}.{domain}` Host), or to the REST API. Pure: no I/O, table-tested.
 */
import { ENVD_PORT } from "../sandboxes/sandbox-state.js";

/** The headers the SDK sends with every envd call (lower-case, as Node hands them over). */
export const ROUTING_HEADERS = {
  sandboxId: "e2b-sandbox-id",
  sandboxPort: "e2b-sandbox-port",
} as const;

/**
 * First labels under the domain that never name a sandbox, so `api.{domain}` and friends reach the
 * API even though they look like a port-less `{sandboxId}.{domain}`. Sandbox ids are 20 random
 * characters, so none of these can collide with one.
 */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(["api", "sandbox", "www", "gateway"]);

const SANDBOX_ID = /^[a-z0-9]+$/;
const PORT = /^[0-9]{1,5}$/;

/** The outcome of routing one request. */
export type Route =
  | { kind: "api" }
  | { kind: "sandbox"; sandboxId: string; port: number; via: "header" | "host" }
  | { kind: "invalid"; message: string };

/** What routing reads off a request: header values as Node gives them, and the Host or `:authority`. */
export interface RoutingInput {
  host: string | undefined;
  sandboxIdHeader: string | string[] | undefined;
  sandboxPortHeader: string | string[] | undefined;
}

/**
 * Routes one request. The headers win over the Host (the SDK sends both, the Host naming the
 * gateway); a Host under `domain` of the form `{port}-{id}` or `{id}` names a sandbox; anything
 * else is the API's. Malformed ids or ports are `invalid` (the caller answers 400), never guessed at.
 */
export function routeRequest(input: RoutingInput, domain: string): Route {
  if (input.sandboxIdHeader !== undefined) {
    const id = single(input.sandboxIdHeader);
    if (id === undefined || !SANDBOX_ID.test(id))
      return invalid(`invalid ${ROUTING_HEADERS.sandboxId} header: sandbox ids match ^[a-z0-9]+$`);
    const port =
      input.sandboxPortHeader === undefined
        ? ENVD_PORT
        : parsePort(single(input.sandboxPortHeader));
    if (port === undefined)
      return invalid(`invalid ${ROUTING_HEADERS.sandboxPort} header: a port is 1 to 65535`);
    return { kind: "sandbox", sandboxId: id, port, via: "header" };
  }
  const label = firstLabelUnder(input.host, domain);
  if (label === undefined || RESERVED_LABELS.has(label)) return { kind: "api" };
  const dash = label.indexOf("-");
  const rawPort = dash < 0 ? undefined : label.slice(0, dash);
  const id = dash < 0 ? label : label.slice(dash + 1);
  const port = rawPort === undefined ? ENVD_PORT : parsePort(rawPort);
  if (port === undefined)
    return invalid(`invalid port in host ${label}.${domain}: a port is 1 to 65535`);
  if (!SANDBOX_ID.test(id))
    return invalid(`invalid sandbox id in host ${label}.${domain}: sandbox ids match ^[a-z0-9]+$`);
  return { kind: "sandbox", sandboxId: id, port, via: "host" };
}

/**
 * The single label in front of `.{domain}` in a Host header value (port and trailing dot dropped,
 * lower-cased), or undefined when the host is not exactly one label under the domain.
 */
export function firstLabelUnder(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  let name = host.trim().toLowerCase();
  if (name.startsWith("[")) return undefined; // an IPv6 literal is never under the domain
  const colon = name.lastIndexOf(":");
  if (colon >= 0) name = name.slice(0, colon);
  if (name.endsWith(".")) name = name.slice(0, -1);
  const suffix = `.${domain.toLowerCase().replace(/\.$/, "")}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  return label && !label.includes(".") ? label : undefined;
}

/** A port number 1-65535 from its decimal text, else undefined. */
function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined || !PORT.test(raw)) return undefined;
  const port = Number(raw);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** A header that arrived once; repeated ones (an array, or Node's comma-joined form) are refused. */
function single(value: string | string[]): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0]?.trim() : undefined;
  return value.trim();
}

function invalid(message: string): Route {
  return { kind: "invalid", message };
}
