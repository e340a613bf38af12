/**
 * The query of `GET /sandboxes` and `GET /v2/sandboxes`, pure: metadata and state filters,
 * ordering and the pagination cursor.
 */
import type { E2bState } from "../sandboxes/sandbox-state.js";
import { badRequest } from "./errors.js";

/** One query parameter as express hands it over (a repeated parameter is an array). */
export type QueryValue = string | string[] | undefined;

/** A parsed list query. */
export interface ListQuery {
  metadata: Record<string, string>;
  /** The states to keep; undefined: all. */
  states?: ReadonlySet<E2bState>;
  limit: number;
  /** Newest first (E2B's default) or oldest first. */
  order: "asc" | "desc";
  after?: Cursor;
  startedAfter?: Date;
  template?: string;
}

/** Where the previous page ended: the last item's start time and id. */
export interface Cursor {
  startedAtMs: number;
  id: string;
}

/** The page size when none is asked for, and the largest one. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 100;

const STATES: readonly E2bState[] = ["running", "paused"];

/**
 * Parses E2B's metadata filter `k=v&k2=v2`. Keys and values arrive URL-encoded once more inside
 * the parameter (the SDK encodes each pair, then the whole string), so each is decoded after the
 * split; a part that is not valid percent-encoding is taken as it is.
 */
export function parseMetadataFilter(raw: QueryValue): Record<string, string> {
  const out: Record<string, string> = {};
  for (const text of values(raw)) {
    for (const [k, v] of new URLSearchParams(text)) {
      if (k === "") throw badRequest(`metadata filter '${text}' has a pair without a key`);
      out[decodeLenient(k)] = decodeLenient(v);
    }
  }
  return out;
}

/** Parses the `state` filter: repeated or comma-separated `running`/`paused`. */
export function parseStates(raw: QueryValue): Set<E2bState> | undefined {
  const parts = values(raw)
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (parts.length === 0) return undefined;
  const out = new Set<E2bState>();
  for (const p of parts) {
    if (!(STATES as readonly string[]).includes(p))
      throw badRequest(`state '${p}' is not a sandbox state: use ${STATES.join(" or ")}`);
    out.add(p as E2bState);
  }
  return out;
}

/** Parses `limit`: a whole number from 1 to {@link MAX_LIMIT}. */
export function parseLimit(raw: QueryValue): number {
  const [text, ...more] = values(raw);
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (more.length > 0 || !/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT)
    throw badRequest(
      `limit must be a whole number from 1 to ${MAX_LIMIT}, not '${values(raw).join(",")}'`,
    );
  return n;
}

/** The opaque `nextToken` for a page that ended at `c`. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.startedAtMs, c.id]), "utf8").toString("base64url");
}

/** Reads a `nextToken`; a token this API did not give out is a 400. */
export function decodeCursor(token: string): Cursor {
  const bad = () =>
    badRequest(`nextToken '${token}' is not a token from this API: start the listing without it`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch (err) {
    throw Object.assign(bad(), { cause: err });
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "number" ||
    !Number.isFinite(parsed[0]) ||
    typeof parsed[1] !== "string" ||
    !/^[a-z0-9-]{1,63}$/.test(parsed[1])
  )
    throw bad();
  return { startedAtMs: parsed[0], id: parsed[1] };
}

/** Parses the whole list query; `v2` adds state, limit, cursor, order, startedAfter and template. */
export function parseListQuery(q: Record<string, QueryValue>, v2: boolean): ListQuery {
  const metadata = parseMetadataFilter(q.metadata);
  if (!v2) return { metadata, limit: Number.MAX_SAFE_INTEGER, order: "desc" };
  const out: ListQuery = { metadata, limit: parseLimit(q.limit), order: "desc" };
  const states = parseStates(q.state);
  if (states) out.states = states;
  const [order] = values(q.order);
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc")
      throw badRequest(`order must be asc or desc, not '${order}'`);
    out.order = order;
  }
  const [token] = values(q.nextToken);
  if (token) out.after = decodeCursor(token);
  const [startedAfter] = values(q.startedAfter);
  if (startedAfter) {
    const t = new Date(startedAfter);
    if (Number.isNaN(t.getTime()))
      throw badRequest(`startedAfter '${startedAfter}' is not a date-time (RFC 3339)`);
    out.startedAfter = t;
  }
  const [template] = values(q.template);
  if (template) out.template = template;
  return out;
}

/** An item to page through: its start time and id. */
export interface Pageable {
  startedAtMs: number;
  id: string;
}

/**
 * Sorts `items` (start time, then id, in `order`), drops those up to the cursor, and cuts a page
 * of `limit`. `next` is the cursor of the following page, undefined on the last one.
 */
export function paginate<T extends Pageable>(
  items: readonly T[],
  order: "asc" | "desc",
  limit: number,
  after?: Cursor,
): { page: T[]; next?: Cursor } {
  const sign = order === "asc" ? 1 : -1;
  const cmp = (a: Pageable, b: Pageable) =>
    sign * (a.startedAtMs - b.startedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const sorted = [...items].sort(cmp);
  const rest = after ? sorted.filter((x) => cmp(x, after) > 0) : sorted;
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  if (rest.length <= limit || !last) return { page };
  return { page, next: { startedAtMs: last.startedAtMs, id: last.id } };
}

function values(raw: QueryValue): string[] {
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [raw];
}

function decodeLenient(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
