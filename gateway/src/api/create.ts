/**
 * `POST /sandboxes` and `POST /v2/sandboxes`: a Sandbox in the caller's team namespace from a
 * template ConfigMap, its environment variables in a Secret of its own, then a wait on the cache
 * until envd answers (or the sandbox fails, or the create timeout passes and it is deleted).
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import {
  SandboxResource,
  type Sandbox,
  type SandboxSpec,
  type Snapshot,
} from "../../../api/gen/crd-types.js";
import { Annotation, Label } from "../../../api/labels.js";
import { TemplateError, resolveTemplate } from "../../../api/template.js";
import { WaitTimeoutError } from "../sandboxes/sandbox-index.js";
import { isReady } from "../sandboxes/sandbox-state.js";
import { isTerminal, readyCondition } from "../../../api/verdicts.js";
import type { ApiContext } from "./context.js";
import {
  ANNOTATION_SIZE,
  TEMPLATE_CONFIGMAP_PREFIX,
  sizeOfTemplate,
  toE2bSandbox,
  type E2bSandbox,
  type SandboxSize,
} from "./e2b-json.js";
import { ApiError, badRequest } from "./errors.js";
import { newSandboxId } from "./ids.js";
import { withTrafficToken } from "./network-routes.js";
import { messageOf, statusOf } from "./kube.js";
import {
  DEFAULT_TAG,
  looksLikeSnapshotRef,
  parseSnapshotRef,
  snapshotSource,
} from "./snapshots-names.js";
import { findSnapshotForCreate } from "./snapshots-store.js";
import { isRecord, parseCreateRequest, type CreateRequest } from "./validate.js";
import { checkVolumeMounts } from "../volumes/mounts.js";

/** The largest `spec.timeoutSeconds` the CRD takes (30 days). */
const MAX_CRD_TIMEOUT_SECONDS = 2_592_000;

/** The Secret holding a sandbox's environment variables. */
export const envSecretName = (id: string) => `${id}-env`;

/**
 * Why a starting sandbox will not become ready, or undefined while it still may. The operator
 * owns that verdict (phase Failed, see `isTerminal`); reasons it retries (an image pull that may
 * yet work) keep the create waiting until its timeout, which then names the last reason.
 */
export function startFailure(s: Sandbox): ApiError | undefined {
  if (!isTerminal(s)) return undefined;
  const ready = readyCondition(s);
  return new ApiError(
    500,
    `sandbox '${s.metadata.name ?? ""}' failed to start: ${ready?.message ?? "no reason given"}`,
  );
}

/** The Sandbox object for a request. Pure. */
export function desiredSandbox(
  id: string,
  team: string,
  req: CreateRequest,
  size: SandboxSize,
): Sandbox {
  const spec: SandboxSpec = {
    ...(req.restoreFrom
      ? { restoreFrom: req.restoreFrom.snapshot }
      : { templateRef: `${TEMPLATE_CONFIGMAP_PREFIX}${req.templateID}` }),
    onTimeout: req.autoPause ? "Pause" : "Delete",
    // Counted by the operator from the moment the sandbox is first Ready, not from this request:
    // a slow start (an image pull, a busy node) must not eat the time the caller asked for. Later
    // `/timeout` and `/connect` calls move the deadline with the expires-at annotation instead.
    timeoutSeconds: Math.min(Math.max(req.timeoutSeconds, 1), MAX_CRD_TIMEOUT_SECONDS),
  };
  if (Object.keys(req.metadata).length > 0) spec.metadata = req.metadata;
  if (Object.keys(req.envVars).length > 0)
    spec.envFrom = [{ secretRef: { name: envSecretName(id) } }];
  if (req.network) spec.network = req.network;
  if (req.volumeMounts?.length)
    spec.volumeMounts = req.volumeMounts.map((m) => ({ volume: m.volume, path: m.path }));
  if (req.pauseMode) spec.pauseMode = req.pauseMode;
  const annotations: Record<string, string> = { [ANNOTATION_SIZE]: JSON.stringify(size) };
  if (req.autoResume) annotations[Annotation.autoResume] = "true";
  if (req.restoreFrom) annotations[Annotation.templateId] = req.restoreFrom.templateID;
  return {
    apiVersion: SandboxResource.apiVersion,
    kind: SandboxResource.kind,
    metadata: { name: id, namespace: team, labels: { [Label.team]: team }, annotations },
    spec,
  };
}

/** Creates a sandbox for team `team` from a request body and answers E2B's `Sandbox`. */
export async function createSandbox(
  ctx: ApiContext,
  team: string,
  body: unknown,
): Promise<E2bSandbox> {
  const named = isRecord(body) ? body.templateID : undefined;
  if (isRecord(body) && looksLikeSnapshotRef(named)) {
    // `[team/]name[:tag]`: a snapshot of that name, else (E2B's default tag) the template `name`.
    const ref = parseSnapshotRef(named, team, "Invalid template ID");
    const snap = await findSnapshotForCreate(ctx.snapshots, team, ref);
    if (snap) return createFromSnapshot(ctx, team, body, snap);
    if (ref.tag !== undefined && ref.tag !== DEFAULT_TAG)
      throw new ApiError(404, `template '${named}' not found`);
    return createSandbox(ctx, team, { ...body, templateID: ref.alias });
  }
  const req = parseCreateRequest(body, ctx.config);
  await checkMounts(ctx, team, req);
  const cmName = `${TEMPLATE_CONFIGMAP_PREFIX}${req.templateID}`;
  const cm = await ctx.kube.readConfigMap(team, cmName);
  if (!cm) {
    // Not a template: a snapshot id or name (E2B's snapshots are templates), else a 404.
    const ref = { alias: req.templateID };
    const snap = await findSnapshotForCreate(ctx.snapshots, team, ref);
    if (!snap) throw new ApiError(404, `template '${req.templateID}' not found`);
    return createFromSnapshot(ctx, team, body as Record<string, unknown>, snap);
  }
  let size;
  try {
    const probe: Sandbox = {
      apiVersion: SandboxResource.apiVersion,
      kind: SandboxResource.kind,
      metadata: { namespace: team },
      spec: { templateRef: cmName },
    };
    size = sizeOfTemplate(resolveTemplate(probe, cm));
  } catch (err) {
    if (err instanceof TemplateError)
      throw new ApiError(500, `template '${req.templateID}' cannot be used: ${err.message}`, {
        cause: err,
      });
    throw err;
  }

  return startSandbox(ctx, team, req, size);
}

async function checkMounts(ctx: ApiContext, team: string, req: CreateRequest): Promise<void> {
  if (!req.requestedMounts) return;
  const mounts = req.requestedMounts;
  const claims = await ctx.volumes.claimsByName(
    team,
    mounts.map((m) => m.name),
  );
  req.volumeMounts = checkVolumeMounts(mounts, (name) => claims.get(name));
}

/**
 * A create whose `templateID` names a snapshot of the team (its id or `[team/]name[:tag]`): a
 * new sandbox with `spec.restoreFrom`, its size and template id taken from the snapshot. The
 * rest of the body is checked as any create's.
 */
async function createFromSnapshot(
  ctx: ApiContext,
  team: string,
  body: Record<string, unknown>,
  snap: Snapshot,
): Promise<E2bSandbox> {
  const source = snapshotSource(snap);
  // The body's other fields are checked as any create's; its templateID was resolved above.
  const req = parseCreateRequest({ ...body, templateID: source.templateID }, ctx.config);
  req.restoreFrom = { snapshot: snap.metadata.name ?? "", templateID: source.templateID };
  await checkMounts(ctx, team, req);
  return startSandbox(ctx, team, req, source.size);
}

/**
 * Writes the Sandbox of a checked request and waits until it is ready; one that fails or does
 * not become ready in time is deleted and the caller gets E2B's error. Answers E2B's `Sandbox`.
 */
export async function startSandbox(
  ctx: ApiContext,
  team: string,
  req: CreateRequest,
  size: SandboxSize,
): Promise<E2bSandbox> {
  const { sandbox, id } = await createWithFreshId(ctx, team, req, size);
  const log = ctx.log.with({ sandboxID: id, team });
  log.info("sandbox created; waiting for it to be ready", {
    template: req.templateID,
    ...(req.restoreFrom ? { snapshot: req.restoreFrom.snapshot } : {}),
  });
  let seen = false;
  let ready: Sandbox | undefined;
  try {
    ready = await ctx.index.waitFor(
      id,
      (s) => {
        if (!s) return seen; // not in the cache yet, or gone after it was there
        if (s.metadata.uid !== sandbox.metadata.uid) return false;
        seen = true;
        return isReady(s) || startFailure(s) !== undefined || !!s.metadata.deletionTimestamp;
      },
      ctx.config.createTimeoutSeconds * 1000,
    );
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    await ctx.kube
      .deleteSandbox(team, id)
      .catch((e: unknown) =>
        log.warn("deleting a sandbox that did not start failed", { error: e }),
      );
    const reason = err.last ? readyCondition(err.last) : undefined;
    throw new ApiError(
      504,
      `sandbox '${id}' was not ready within ${ctx.config.createTimeoutSeconds} s and was deleted${reason ? ` (last: ${reason.reason}: ${reason.message})` : ""}`,
      { cause: err },
    );
  }
  if (!ready || ready.metadata.deletionTimestamp)
    throw new ApiError(500, `sandbox '${id}' was deleted while it was starting`);
  const failure = startFailure(ready);
  if (failure) {
    await ctx.kube
      .deleteSandbox(team, id)
      .catch((e: unknown) => log.warn("deleting a failed sandbox failed", { error: e }));
    throw failure;
  }
  log.info("sandbox ready");
  return withTrafficToken(
    ctx,
    ready,
    toE2bSandbox(ready, await ctx.token(ready), ctx.config.domain),
  );
}

/**
 * Writes the env Secret (when there are variables) and the Sandbox under a fresh id; a taken id
 * (practically never) gets another. The Secret is deleted when the Sandbox cannot be created, and
 * owned by the Sandbox once it exists, so it goes with it.
 */
async function createWithFreshId(
  ctx: ApiContext,
  team: string,
  req: CreateRequest,
  size: SandboxSize,
): Promise<{ sandbox: Sandbox; id: string }> {
  for (let attempt = 0; ; attempt++) {
    const id = newSandboxId();
    const hasEnv = Object.keys(req.envVars).length > 0;
    if (hasEnv) {
      try {
        await ctx.kube.createSecret(team, {
          metadata: {
            name: envSecretName(id),
            labels: { [Label.team]: team, [Label.sandbox]: id },
          },
          type: "Opaque",
          stringData: req.envVars,
        });
      } catch (err) {
        if (statusOf(err) === 409 && attempt < 3) continue;
        throw err;
      }
    }
    let sandbox: Sandbox;
    try {
      sandbox = await ctx.kube.createSandbox(team, desiredSandbox(id, team, req, size));
    } catch (err) {
      if (hasEnv) await ctx.kube.deleteSecret(team, envSecretName(id)).catch(() => undefined);
      const status = statusOf(err);
      if (status === 409 && attempt < 3) continue;
      if (status === 422 || status === 400)
        throw badRequest(messageOf(err) ?? "the sandbox was refused by Kubernetes", { cause: err });
      throw err;
    }
    if (hasEnv) {
      const owner: V1OwnerReference = {
        apiVersion: SandboxResource.apiVersion,
        kind: SandboxResource.kind,
        name: id,
        uid: sandbox.metadata.uid ?? "",
        controller: false,
      };
      await ctx.kube.patchSecret(team, envSecretName(id), {
        metadata: { ownerReferences: [owner] },
      });
    }
    return { sandbox, id };
  }
}
