/**
 * E2B's snapshots as `Snapshot` objects: `POST /sandboxes/{id}/snapshots` takes one of a running
 * sandbox (the operator freezes it for the capture and thaws it after) and answers once it is
 * Ready; `GET /snapshots` lists the team's; `DELETE /templates/{id}` (the SDK's deleteSnapshot)
 * deletes one by id or name. A snapshot the user made is owned by nothing: it outlives its sandbox.
 */
import type { Sandbox, Snapshot } from "../../../api/gen/crd-types.js";
import { SnapshotResource } from "../../../api/gen/crd-types.js";
import { Annotation, Label, labelValue } from "../../../api/labels.js";
import { e2bState, isReady } from "../sandboxes/sandbox-state.js";
import type { ApiContext } from "./context.js";
import { ANNOTATION_SIZE, templateIdOf } from "./e2b-json.js";
import { ApiError, conflict } from "./errors.js";
import { newSandboxId } from "./ids.js";
import { statusOf } from "./kube.js";
import { paginate, type Cursor, type QueryValue } from "./list-query.js";
import {
  SnapshotKind,
  listedSnapshots,
  matchesRef,
  parseSnapshotListQuery,
  parseSnapshotRef,
  parseSnapshotRequest,
  toSnapshotInfo,
  type E2bSnapshotInfo,
  type SnapshotRef,
} from "./snapshots-names.js";
import { namedSnapshots, waitSnapshot, type SnapshotOutcome } from "./snapshots-store.js";

/** The Snapshot object for a capture of `s`. Pure. */
export function desiredSnapshot(
  id: string,
  s: Sandbox,
  kind: (typeof SnapshotKind)[keyof typeof SnapshotKind],
  name?: { alias: string; tag: string },
  mode: "Filesystem" | "Memory" = "Filesystem",
): Snapshot {
  const team = s.metadata.namespace ?? "";
  const labels: Record<string, string> = {
    [Label.team]: team,
    [Label.sandbox]: labelValue(s.metadata.name ?? ""),
    [Label.snapshotKind]: kind,
  };
  const annotations: Record<string, string> = {};
  // What a sandbox started from it reports: the template and size of this one.
  const templateID = templateIdOf(s);
  if (templateID) annotations[Annotation.templateId] = templateID;
  const size = s.metadata.annotations?.[ANNOTATION_SIZE];
  if (size) annotations[ANNOTATION_SIZE] = size;
  if (name) {
    labels[Label.snapshotName] = labelValue(name.alias);
    labels[Label.snapshotTag] = labelValue(name.tag);
    annotations[Annotation.snapshotName] = name.alias;
  }
  return {
    apiVersion: SnapshotResource.apiVersion,
    kind: SnapshotResource.kind,
    metadata: { name: id, namespace: team, labels, annotations },
    spec: { sandbox: s.metadata.name ?? "", mode },
  };
}

/**
 * Creates a Snapshot of `s` under a fresh id and waits for the operator to take it. A snapshot
 * that fails or is not ready in time is deleted (nothing half-taken stays behind).
 */
export async function takeSnapshot(
  ctx: ApiContext,
  s: Sandbox,
  kind: (typeof SnapshotKind)[keyof typeof SnapshotKind],
  name?: { alias: string; tag: string },
  mode: "Filesystem" | "Memory" = "Filesystem",
): Promise<SnapshotOutcome> {
  const team = s.metadata.namespace ?? "";
  let created: Snapshot | undefined;
  for (let attempt = 0; !created; attempt++) {
    try {
      created = await ctx.snapshots.create(
        team,
        desiredSnapshot(newSandboxId(), s, kind, name, mode),
      );
    } catch (err) {
      if (statusOf(err) === 409 && attempt < 3) continue; // a taken id: practically never
      throw err;
    }
  }
  const id = created.metadata.name ?? "";
  const log = ctx.log.with({ sandboxID: s.metadata.name, snapshot: id, team });
  log.info("snapshot created; waiting for the operator to take it", { kind });
  const out = await waitSnapshot(ctx.snapshots, team, id);
  if (out.done === "ready") log.info("snapshot ready");
  else {
    log.warn("snapshot not taken; deleting it", { outcome: out.done });
    await ctx.snapshots
      .delete(team, id)
      .catch((err: unknown) => log.warn("deleting a snapshot that was not taken failed", { err }));
  }
  return out;
}

/** Why a snapshot outcome is not a snapshot, in words; undefined when it is one. */
export function outcomeProblem(out: SnapshotOutcome): string | undefined {
  switch (out.done) {
    case "ready":
      return undefined;
    case "gone":
      return "the snapshot was deleted while it was being taken";
    default:
      return out.message;
  }
}

/** 409 unless `s` runs: a paused sandbox is resumed first (E2B's state-transition refusal). */
export function checkRunning(s: Sandbox, doing: string): void {
  if (e2bState(s) !== "running" || !isReady(s))
    throw conflict(
      `Sandbox '${s.metadata.name ?? ""}' cannot be ${doing} while in '${e2bState(s)}' state${isReady(s) ? "" : " (not ready)"}`,
    );
}

/** `POST /sandboxes/{id}/snapshots`: E2B's `SnapshotInfo` once the snapshot is Ready. */
export async function createNamedSnapshot(
  ctx: ApiContext,
  s: Sandbox,
  body: Record<string, unknown>,
): Promise<E2bSnapshotInfo> {
  const team = s.metadata.namespace ?? "";
  const req = parseSnapshotRequest(body, team, ctx.config.memoryPause === "Memory");
  checkRunning(s, "snapshotted");
  const mode = req.memory ? "Memory" : "Filesystem";
  const out = await takeSnapshot(ctx, s, SnapshotKind.named, req.name, mode);
  if (out.done !== "ready")
    throw new ApiError(500, `Error creating snapshot template: ${outcomeProblem(out)}`);
  return toSnapshotInfo(out.snapshot, team);
}

/** `GET /snapshots`: one page and the cursor of the next. */
export async function listSnapshots(
  ctx: ApiContext,
  team: string,
  query: Record<string, QueryValue>,
): Promise<{ page: E2bSnapshotInfo[]; next?: Cursor }> {
  const q = parseSnapshotListQuery(query, team);
  const items = listedSnapshots(await namedSnapshots(ctx.snapshots, team), q).map((s) => ({
    s,
    id: s.metadata.name ?? "",
    startedAtMs: Date.parse(String(s.metadata.creationTimestamp ?? "")) || 0,
  }));
  // E2B lists newest first.
  const { page, next } = paginate(items, "desc", q.limit, q.after);
  const out: { page: E2bSnapshotInfo[]; next?: Cursor } = {
    page: page.map((x) => toSnapshotInfo(x.s, team)),
  };
  if (next) out.next = next;
  return out;
}

/**
 * Deletes every snapshot `idOrName` names (an id, or a name with all its tags: E2B deletes the
 * snapshot template with all its builds). Undefined when `idOrName` is no snapshot of the team;
 * 400 while a sandbox started from one of them still exists (it may need it to start again).
 */
export async function deleteSnapshots(
  ctx: ApiContext,
  team: string,
  idOrName: string,
): Promise<"deleted" | undefined> {
  let ref: SnapshotRef;
  try {
    ref = parseSnapshotRef(idOrName, team, "Invalid template ID");
  } catch {
    return undefined; // not a snapshot's shape: not ours to answer
  }
  const matching = (await namedSnapshots(ctx.snapshots, team)).filter((s) =>
    matchesRef(s, { alias: ref.alias }, true),
  );
  if (matching.length === 0) return undefined;
  const names = new Set(matching.map((s) => s.metadata.name));
  const user = ctx.index
    .list(team)
    .find((x) => !x.metadata.deletionTimestamp && names.has(x.spec.restoreFrom));
  if (user)
    throw new ApiError(
      400,
      `cannot delete template '${idOrName}' because there are running sandboxes using it (${user.metadata.name ?? ""})`,
    );
  await Promise.all(matching.map((s) => ctx.snapshots.delete(team, s.metadata.name ?? "")));
  return "deleted";
}
