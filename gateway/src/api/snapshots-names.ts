/**
 * E2B's snapshot names and ids, pure. E2B stores a snapshot as a template: it is addressed by its
 * id or by `[team/]name[:tag]`, and answered as `SnapshotInfo {snapshotID, names}` where a named
 * snapshot's id is `team/name:tag` and an unnamed one's is `<id>:default`. SoulBox keeps a
 * snapshot as a `Snapshot` object named by a fresh id, its E2B name and tag in labels.
 */
import type { Snapshot, SandboxTemplate } from "../../../api/gen/crd-types.js";
import { Annotation, Label } from "../../../api/labels.js";
import { ANNOTATION_SIZE, sizeOfTemplate, type SandboxSize } from "./e2b-json.js";
import { badRequest } from "./errors.js";
import { isRecord } from "./validate.js";
import { decodeCursor, parseLimit, type Cursor, type QueryValue } from "./list-query.js";

/** The tag of a snapshot made without one (E2B's `default`). */
export const DEFAULT_TAG = "default";
/** Label values of {@link Label.snapshotKind}. */
export const SnapshotKind = { named: "named", fork: "fork" } as const;

/** A parsed `[team/]name[:tag]`: lowercase, the team checked. */
export interface SnapshotRef {
  /** The name, or a snapshot id. */
  alias: string;
  /** The tag as given (`default` included); undefined when none was given. */
  tag?: string;
}

/** E2B `SnapshotInfo`. */
export interface E2bSnapshotInfo {
  snapshotID: string;
  names: string[];
}

// E2B's shapes of a name (and namespace) and of a tag.
const IDENTIFIER = /^[a-z0-9-_]+$/;
const TAG = /^[a-z0-9-_.]+$/;

/** Thrown by {@link parseSnapshotRef}: the message is E2B's (`invalid tag: X`, ...). */
class RefError extends Error {}

/**
 * Parses `[namespace/]alias[:tag]` as E2B does (trimmed, lowercased, each part checked); an
 * explicit namespace must be the caller's team. Throws a 400 whose message starts with `prefix`
 * (E2B says `Invalid name: ...` or `Invalid template ID: ...`).
 */
export function parseSnapshotRef(input: string, team: string, prefix: string): SnapshotRef {
  try {
    return parseRef(input, team);
  } catch (err) {
    if (err instanceof RefError) throw badRequest(`${prefix}: ${err.message}`, { cause: err });
    throw err;
  }
}

function parseRef(input: string, team: string): SnapshotRef {
  const text = input.trim();
  const colon = text.indexOf(":");
  const idPart = colon >= 0 ? text.slice(0, colon) : text;
  const slash = idPart.indexOf("/");
  const clean = (value: string, what: string, re: RegExp) => {
    const v = value.trim().toLowerCase();
    if (!re.test(v)) throw new RefError(`invalid ${what}: ${value}`);
    return v;
  };
  const out: SnapshotRef = { alias: "" };
  if (colon >= 0) out.tag = clean(text.slice(colon + 1), "tag", TAG);
  if (slash >= 0) {
    const ns = clean(idPart.slice(0, slash), "namespace", IDENTIFIER);
    if (ns !== team) throw new RefError(`namespace '${ns}' must match your team '${team}'`);
  }
  out.alias = clean(slash >= 0 ? idPart.slice(slash + 1) : idPart, "template ID", IDENTIFIER);
  return out;
}

/** True when a create's `templateID` can only be a snapshot (it has a team or a tag). */
export function looksLikeSnapshotRef(templateID: unknown): templateID is string {
  return typeof templateID === "string" && /[:/]/.test(templateID);
}

/** A named Snapshot's E2B name; undefined for an unnamed one. */
export const snapshotNameOf = (s: Snapshot): string | undefined =>
  s.metadata.annotations?.[Annotation.snapshotName];
/** A Snapshot's E2B tag. */
export const snapshotTagOf = (s: Snapshot): string =>
  s.metadata.labels?.[Label.snapshotTag] ?? DEFAULT_TAG;

/**
 * True when `s` is what `ref` names: its id, or its name with the tag asked for. Without a tag,
 * `anyTag` matches every tag (list filters, deletes), else only `default` (a sandbox create).
 */
export function matchesRef(s: Snapshot, ref: SnapshotRef, anyTag: boolean): boolean {
  const tagOk = (tag: string) =>
    ref.tag === undefined ? anyTag || tag === DEFAULT_TAG : tag === ref.tag;
  if (s.metadata.name === ref.alias) return tagOk(DEFAULT_TAG);
  return snapshotNameOf(s) === ref.alias && tagOk(snapshotTagOf(s));
}

/** E2B `SnapshotInfo` of a Snapshot in team `team`. */
export function toSnapshotInfo(s: Snapshot, team: string): E2bSnapshotInfo {
  const name = snapshotNameOf(s);
  const tag = snapshotTagOf(s);
  if (name === undefined) return { snapshotID: `${s.metadata.name ?? ""}:${tag}`, names: [] };
  const full = `${team}/${name}`;
  return { snapshotID: `${full}:${tag}`, names: [full] };
}

/** A validated `SandboxSnapshotRequest`. */
export interface SnapshotRequest {
  name?: SnapshotRef & { tag: string };
  /** A memory snapshot (the processes too), not only the files. */
  memory?: true;
}

/**
 * Validates `POST /sandboxes/{id}/snapshots`' body. `memory: true` asks for a memory snapshot,
 * which this gateway takes only when `memoryAllowed` (`--memory-pause Memory`: its node agents
 * checkpoint processes); otherwise it is refused, never silently downgraded (E2B's own rule for
 * a capability that is not enabled).
 */
export function parseSnapshotRequest(
  body: Record<string, unknown>,
  team: string,
  memoryAllowed = false,
): SnapshotRequest {
  if (body.memory !== undefined && body.memory !== null && typeof body.memory !== "boolean")
    throw badRequest("memory must be true or false");
  if (body.memory === true && !memoryAllowed)
    throw badRequest(
      "memory snapshots are off on this SoulBox (the gateway's --memory-pause is Freeze; Helm values gateway.memoryPause: Memory and nodeAgent.memory.enabled turn them on): omit memory (or set it to false) for a filesystem snapshot",
    );
  const out: SnapshotRequest = body.memory === true ? { memory: true } : {};
  if (body.name === undefined || body.name === null) return out;
  if (typeof body.name !== "string") throw badRequest("name must be a string");
  const ref = parseSnapshotRef(body.name, team, "Invalid name");
  return { ...out, name: { alias: ref.alias, tag: ref.tag ?? DEFAULT_TAG } };
}

/** A parsed `GET /snapshots` query. */
export interface SnapshotListQuery {
  sandboxID?: string;
  name?: SnapshotRef;
  limit: number;
  after?: Cursor;
}

const first = (v: QueryValue): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Parses `GET /snapshots`' query: `sandboxID`, `name`, `limit` and `nextToken` as E2B's spec has them. */
export function parseSnapshotListQuery(
  q: Record<string, QueryValue>,
  team: string,
): SnapshotListQuery {
  const out: SnapshotListQuery = { limit: parseLimit(q.limit) };
  const sandboxID = first(q.sandboxID);
  if (sandboxID) {
    if (!/^[a-z0-9]+$/.test(sandboxID)) throw badRequest("Invalid sandbox ID");
    out.sandboxID = sandboxID;
  }
  const name = first(q.name);
  if (name) out.name = parseSnapshotRef(name, team, "Invalid name");
  const token = first(q.nextToken);
  if (token) out.after = decodeCursor(token);
  return out;
}

/**
 * What `GET /snapshots` shows: the caller's Ready named snapshots, one per name and tag (the
 * newest: a name taken again moves to the new snapshot), filtered by source sandbox and name.
 */
export function listedSnapshots(all: readonly Snapshot[], q: SnapshotListQuery): Snapshot[] {
  const created = (s: Snapshot) => Date.parse(String(s.metadata.creationTimestamp ?? "")) || 0;
  const byKey = new Map<string, Snapshot>();
  for (const s of all) {
    if (s.metadata.labels?.[Label.snapshotKind] !== SnapshotKind.named) continue;
    if (s.status?.phase !== "Ready" || s.metadata.deletionTimestamp) continue;
    if (q.sandboxID && s.spec.sandbox !== q.sandboxID) continue;
    if (q.name && !matchesRef(s, q.name, true)) continue;
    const name = snapshotNameOf(s);
    const key = name === undefined ? `id:${s.metadata.name}` : `${name}:${snapshotTagOf(s)}`;
    const seen = byKey.get(key);
    if (!seen || created(s) > created(seen)) byKey.set(key, s);
  }
  return [...byKey.values()];
}

/**
 * What a sandbox started from `s` reports: the template id and size of the sandbox it was taken
 * of (recorded on the Snapshot by the gateway), else the size of the template the operator
 * recorded, and the snapshot's own id as its template. Pure.
 */
export function snapshotSource(s: Snapshot): { templateID: string; size: SandboxSize } {
  const a = s.metadata.annotations ?? {};
  const templateID = a[Annotation.templateId] || (s.metadata.name ?? "");
  let size: SandboxSize = { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 };
  try {
    const recorded: unknown = JSON.parse(a[ANNOTATION_SIZE] ?? "null");
    if (isRecord(recorded)) size = { ...size, ...(recorded as Partial<SandboxSize>) };
    else if (isRecord(s.status?.template))
      size = sizeOfTemplate(s.status.template as unknown as SandboxTemplate);
  } catch {
    // A hand-edited annotation: the defaults.
  }
  return { templateID, size };
}
