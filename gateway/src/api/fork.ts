/**
 * `POST /sandboxes/{id}/fork`: a Snapshot of the running sandbox (it runs on, its id and deadline
 * untouched), then `count` new Sandboxes with `restoreFrom` it,
 * each started on its own: one result per fork, a sandbox or the error that stopped it (E2B's
 * `SandboxForkResult`). The snapshot is owned by the forks, so it goes when the last fork goes.
 * Like E2B's, a fork keeps memory when the gateway takes memory checkpoints (`--memory-pause
 * Memory`): a Memory Snapshot, and the forks' processes go on from it (on the source's node);
 * otherwise the files are captured (the source frozen meanwhile) and the forks' processes start
 * afresh.
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import { SandboxResource, type Sandbox, type Snapshot } from "../../../api/gen/crd-types.js";
import { autoResumes } from "../sandboxes/sandbox-state.js";
import type { ApiContext } from "./context.js";
import { envSecretName, startSandbox } from "./create.js";
import { sizeOf, templateIdOf, type E2bSandbox } from "./e2b-json.js";
import { ApiError, badRequest, toApiError } from "./errors.js";
import { SnapshotKind } from "./snapshots-names.js";
import { checkRunning, outcomeProblem, takeSnapshot } from "./snapshots.js";
import { checkTimeoutSeconds } from "./ttl.js";
import type { CreateRequest } from "./validate.js";

/** The most forks one call makes (E2B's limit). */
export const MAX_FORK_COUNT = 100;

/** A checked fork request. */
export interface ForkRequest {
  timeoutSeconds: number;
  count: number;
}

/** E2B `SandboxForkResult`: exactly one of the two. */
export type ForkResult = { sandbox: E2bSandbox } | { error: { code: number; message: string } };

/** Validates a `SandboxForkRequest` body (E2B's messages for the count). Pure. */
export function parseForkRequest(
  body: Record<string, unknown>,
  limits: { defaultTimeoutSeconds: number; maxTimeoutSeconds: number },
): ForkRequest {
  const timeoutSeconds =
    body.timeout === undefined || body.timeout === null
      ? limits.defaultTimeoutSeconds
      : checkTimeoutSeconds(body.timeout, "timeout", limits.maxTimeoutSeconds);
  let count = 1;
  if (body.count !== undefined && body.count !== null) {
    if (typeof body.count !== "number" || !Number.isInteger(body.count))
      throw badRequest(`count must be a whole number, not ${JSON.stringify(body.count)}`);
    if (body.count < 1) throw badRequest("Count must be at least 1");
    if (body.count > MAX_FORK_COUNT)
      throw badRequest(`Count cannot be greater than ${MAX_FORK_COUNT}`);
    count = body.count;
  }
  return { timeoutSeconds, count };
}

/**
 * The create request of one fork of `source`: its metadata, environment, egress and timeout
 * behaviour, started from `snapshot`. Volume mounts are not carried over (a claim may be
 * ReadWriteOnce). Pure.
 */
export function forkRequest(
  source: Sandbox,
  snapshot: Snapshot,
  timeoutSeconds: number,
  envVars: Record<string, string>,
): CreateRequest {
  const templateID = templateIdOf(source) || (snapshot.metadata.name ?? "");
  const req: CreateRequest = {
    templateID,
    timeoutSeconds,
    metadata: { ...(source.spec.metadata ?? {}) },
    envVars,
    autoPause: source.spec.onTimeout === "Pause",
    autoResume: autoResumes(source),
    restoreFrom: { snapshot: snapshot.metadata.name ?? "", templateID },
  };
  if (source.spec.network) req.network = structuredClone(source.spec.network);
  const mode = source.spec.pauseMode;
  if (mode === "Filesystem" || mode === "Memory") req.pauseMode = mode;
  return req;
}

/** The envVars of a gateway-made sandbox, from its own Secret; none when it has none. */
async function envVarsOf(ctx: ApiContext, s: Sandbox): Promise<Record<string, string>> {
  const id = s.metadata.name ?? "";
  const uses = (s.spec.envFrom ?? []).some((e) => e.secretRef?.name === envSecretName(id));
  if (!uses) return {};
  const secret = await ctx.kube.readSecret(s.metadata.namespace ?? "", envSecretName(id));
  return Object.fromEntries(
    Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );
}

/** Forks `source`; answers one {@link ForkResult} per fork asked for. */
export async function forkSandbox(
  ctx: ApiContext,
  source: Sandbox,
  body: Record<string, unknown>,
): Promise<ForkResult[]> {
  const req = parseForkRequest(body, ctx.config);
  const id = source.metadata.name ?? "";
  const team = source.metadata.namespace ?? "";
  if (source.spec.state === "Paused" || source.status?.phase === "Paused")
    throw new ApiError(409, `Sandbox '${id}' is paused and cannot be forked; resume it first`);
  checkRunning(source, "forked");
  const envVars = await envVarsOf(ctx, source);
  const mode = ctx.config.memoryPause === "Memory" ? "Memory" : "Filesystem";
  const out = await takeSnapshot(ctx, source, SnapshotKind.fork, undefined, mode);
  if (out.done !== "ready")
    throw new ApiError(500, `Error forking sandbox: ${outcomeProblem(out)}`);
  const snapshot = out.snapshot;
  const results: ForkResult[] = await Promise.all(
    Array.from({ length: req.count }, async (): Promise<ForkResult> => {
      try {
        const forkReq = forkRequest(source, snapshot, req.timeoutSeconds, envVars);
        return { sandbox: await startSandbox(ctx, team, forkReq, sizeOf(source)) };
      } catch (err) {
        const e = toApiError(err);
        return { error: { code: e.status, message: e.message } };
      }
    }),
  );
  await adoptSnapshot(ctx, snapshot, results);
  return results;
}

/**
 * Gives the fork snapshot to the forks that started (owner references, so it is collected with
 * the last of them), or deletes it when none did.
 */
async function adoptSnapshot(
  ctx: ApiContext,
  snapshot: Snapshot,
  results: readonly ForkResult[],
): Promise<void> {
  const team = snapshot.metadata.namespace ?? "";
  const name = snapshot.metadata.name ?? "";
  const owners: V1OwnerReference[] = results.flatMap((r) => {
    if (!("sandbox" in r)) return [];
    const uid = ctx.index.get(r.sandbox.sandboxID)?.metadata.uid;
    return uid
      ? [
          {
            apiVersion: SandboxResource.apiVersion,
            kind: SandboxResource.kind,
            name: r.sandbox.sandboxID,
            uid,
            controller: false,
          },
        ]
      : [];
  });
  const log = ctx.log.with({ snapshot: name, team });
  if (owners.length === 0) {
    await ctx.snapshots
      .delete(team, name)
      .catch((err: unknown) => log.warn("deleting an unused fork snapshot failed", { err }));
    return;
  }
  await ctx.snapshots
    .patch(team, name, { metadata: { ownerReferences: owners } })
    .catch((err: unknown) => log.warn("giving the fork snapshot to its forks failed", { err }));
}
