/**
 * The Sandbox's children, each brought to what the pure functions in
 * `sandbox/` say: the token Secret, the NetworkPolicy and the pod. "Up to
 * date" is judged on the live object in the cache (see `kube/drift.ts`), so a
 * hand edit is put back by the next reconcile and a settled sandbox costs no
 * write at all.
 */
import type * as k8s from "@kubernetes/client-node";
import { TemplateError, resolveTemplate } from "../../../api/template.js";
import { tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import type { GpuAllocation, Sandbox, SandboxTemplate } from "../../../api/gen/crd-types.js";
import type { Logger } from "../../../lib/log.js";
import { driftedFrom } from "../kube/drift.js";
import { statusOf } from "../kube/errors.js";
import { modelName, toWire } from "../kube/wire.js";
import { podLabels, podSpecHash, podSpecView } from "../sandbox/desired-pod.js";
import { Annotation } from "../../../api/labels.js";
import { RESTORE_FROM_ANNOTATION, restorePlan, restoreSource } from "../../../api/snapshot.js";
import { poolPodSpec } from "../pool/desired-pool.js";
import { withGpuAllocation } from "../gpu/desired-gpu-allocation.js";
import { findTakenPod, poolOf, restoresIntoPoolPod, takePoolPod } from "./pool-claim.js";
import { podFromSnapshot, prepareCheckpointImage } from "./memory-restore.js";
import { desiredTokenSecret, newAccessToken } from "../sandbox/desired-secret.js";
import type { PodSpecView } from "../sandbox/status.js";
import type { Failures } from "./failures.js";
import type { SandboxReconcilerDeps } from "./reconcile-sandbox.js";

/** One reconcile of one Sandbox: what every step needs. */
export interface SandboxContext {
  sb: Sandbox;
  namespace: string;
  name: string;
  deps: SandboxReconcilerDeps;
  log: Logger;
  /** Where a failed step is recorded; the reconcile goes on. */
  failures: Failures;
  /** The Sandbox's Bound GpuAllocation: a new pod goes to its node (see sandbox-gpu.ts). */
  gpuAllocation?: GpuAllocation | undefined;
}

/**
 * Applies `desired` unless `live` already has every field it sets. A live
 * object that differs is drift (a hand edit, or an operator upgrade that
 * changed the desired object): it is put back, with a Warning event and a
 * metric, since a changed NetworkPolicy may be an opened hole.
 */
export async function ensureApplied<T extends k8s.KubernetesObject>(
  ctx: SandboxContext,
  live: T | undefined,
  desired: T,
): Promise<T> {
  if (!live) return ctx.deps.writer.apply(desired);
  const drift = objectDrift(live, desired);
  if (drift.length === 0) return live;
  repaired(ctx, desired.kind ?? "object", desired.metadata?.name ?? "", drift);
  return ctx.deps.writer.apply(desired);
}

/** Where `live` differs from `desired` (two objects of one kind), compared in wire form. */
export function objectDrift<T extends k8s.KubernetesObject>(live: T, desired: T): string[] {
  const type = modelName(desired.apiVersion ?? "", desired.kind ?? "");
  return driftedFrom(toWire(live, type), toWire(desired, type));
}

function repaired(ctx: SandboxContext, kind: string, name: string, drift: string[]) {
  const where = drift.join(", ");
  ctx.log.info("an owned child differs from its desired state; restoring it", {
    kind,
    name,
    drift: where,
  });
  ctx.deps.metrics.childRepairs.inc({ kind });
  ctx.deps.events.record(
    ctx.sb,
    "Warning",
    "DriftRepaired",
    `The ${kind} ${name} differed from the Sandbox's spec (${where}); put it back.`,
  );
}

/**
 * The envd access token. A token already in the Secret is kept (a running
 * envd uses it) and the Secret's other fields are repaired. Without one in
 * the cache, a new Secret is created, never applied: the cache may lag, or
 * another reconcile may have created one a moment ago, and then the create's
 * conflict reads the token that must win. (A new sandbox, the common case,
 * costs one round trip, not a read and a create.)
 */
export async function syncToken(ctx: SandboxContext): Promise<string> {
  const { deps, sb, namespace } = ctx;
  const name = tokenSecretName(ctx.name);
  const live = deps.caches.secrets.get(name, namespace);
  const existing = tokenFromSecret(live);
  if (existing) {
    await ensureApplied(ctx, live, desiredTokenSecret(sb, existing));
    return existing;
  }
  const token = newAccessToken();
  try {
    await deps.writer.create(desiredTokenSecret(sb, token));
    return token;
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
    const won = tokenFromSecret(await deps.reader.secret(namespace, name));
    if (!won) throw new Error(`the Secret ${namespace}/${name} holds no token`, { cause: err });
    return won;
  }
}

/** What {@link syncPod} found and did. */
export interface PodOutcome {
  /** The Sandbox's pod as it now is; undefined when there is none (or one of another owner). */
  pod?: k8s.V1Pod;
  /** The SandboxPool the pod was taken from, when it was. */
  pool?: string;
  /** Why no pod can be made from the template (only when there is no pod). */
  templateError?: { reason: string; message: string };
  /** How the pod's spec compares with the current one. */
  podSpec: PodSpecView;
}

/**
 * What {@link syncPod} reads before it acts: the pod named after the Sandbox, the one it took
 * from a pool, and its template. Reads only, so a reconcile runs it beside its other children's
 * writes (one API round trip instead of three on a warm start).
 */
export interface PodLookup {
  /** The pod of the Sandbox's name in the cache, whoever owns it. */
  named?: k8s.V1Pod;
  /** `named`, when the Sandbox owns it. */
  own?: k8s.V1Pod;
  /** A pool pod the Sandbox took. */
  taken?: k8s.V1Pod;
  /** The template, or why it could not be read (a failure is recorded by syncPod). */
  template: { ok: SandboxTemplate | TemplateError } | { error: unknown };
}

/** Reads what {@link syncPod} needs: the cache, and the API server only for a Sandbox without a pod. */
export async function lookUpPod(ctx: SandboxContext): Promise<PodLookup> {
  const { deps, sb, namespace, name } = ctx;
  const named = deps.caches.pods.get(name, namespace);
  const own = named && ownedBy(named, sb) ? named : undefined;
  // Only a Sandbox with no pod in the cache asks the API server: it is about to take or create one.
  const [taken, template] = await Promise.all([
    own ? undefined : findTakenPod(ctx, !named),
    templateOf(ctx).then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    ),
  ]);
  return { named, own, taken, template };
}

/**
 * The pod: its own (named after the Sandbox) or one taken from a SandboxPool;
 * without either, a ready pool pod is taken, else one is created. A pod that
 * finished is deleted (the next reconcile takes or creates another); a running
 * one has its labels kept current. A changed spec is reported, never acted on
 * (see `desired-pod.ts`). A pod of the Sandbox's name that another Sandbox owns
 * (an earlier one of the same name) is waited out.
 */
export async function syncPod(
  ctx: SandboxContext,
  now: Date,
  lookup: PodLookup,
): Promise<PodOutcome> {
  const { deps, sb, namespace, name, failures } = ctx;
  const { named, own, taken } = lookup;
  const live = own ?? taken;
  if (!live && named) {
    ctx.log.info("a pod of this name belongs to something else; waiting for it to go");
    return { podSpec: { state: "unknown", why: "the pod of this name is not this Sandbox's" } };
  }
  // Without a pod, a template that cannot be read keeps the sandbox from starting;
  // with one, it only leaves PodUpToDate unknown.
  const read = lookup.template;
  const template = await failures.attempt(
    `read the template ConfigMap ${namespace}/${sb.spec.templateRef ?? ""}`,
    () => ("ok" in read ? Promise.resolve(read.ok) : Promise.reject(read.error)),
    !live,
  );
  if (!live) {
    if (!template || template instanceof TemplateError) return createPod(ctx, template);
    const took = await failures.attempt(`take a pod of a SandboxPool`, () =>
      takePoolPod(ctx, now, forkIntoPool(ctx, template)),
    );
    if (took) return { pod: took.pod, pool: took.pool, podSpec: { state: "current" } };
    return createPod(ctx, template);
  }
  const podName = live.metadata?.name ?? name;
  if (!live.metadata?.deletionTimestamp && isFinished(live)) {
    ctx.log.info("the sandbox pod finished; replacing it", { phase: live.status?.phase });
    await failures.attempt(`delete the finished pod ${namespace}/${podName}`, () =>
      deps.writer.delete({ apiVersion: "v1", kind: "Pod", namespace, name: podName }),
    );
  } else
    await failures.attempt(`patch the labels of the pod ${namespace}/${podName}`, () =>
      syncPodLabels(ctx, live),
    );
  const pool = taken ? poolOf(taken) : undefined;
  return {
    pod: live,
    ...(pool ? { pool } : {}),
    podSpec: specView(ctx, live, template, pool),
  };
}

/** What a fork restores into a pool's pod (see {@link restoresIntoPoolPod}); undefined otherwise. */
function forkIntoPool(
  ctx: SandboxContext,
  template: SandboxTemplate,
): { from: string; template: SandboxTemplate } | undefined {
  const from = ctx.sb.spec.restoreFrom;
  if (from === undefined) return undefined;
  const plan = restorePlan(ctx.deps.caches.snapshots?.get(from, ctx.namespace));
  return restoresIntoPoolPod(ctx.sb, plan, template) ? { from, template } : undefined;
}

async function createPod(
  ctx: SandboxContext,
  template: SandboxTemplate | TemplateError | undefined,
): Promise<PodOutcome> {
  if (!template) return { podSpec: { state: "unknown", why: "the template could not be read" } };
  if (template instanceof TemplateError)
    return { templateError: template, podSpec: { state: "unknown", why: template.message } };
  const { deps, sb, namespace, name } = ctx;
  // A pod of a sandbox with a Snapshot starts from it (its files, or its processes), or not at
  // all: never from an empty image.
  const from = restoreSource(sb);
  const plan = from ? restorePlan(deps.caches.snapshots?.get(from, namespace)) : undefined;
  if (from && !plan) {
    const why = {
      reason: "SnapshotNotReady",
      message: `the Snapshot ${from} this sandbox resumes from is missing or not Ready; no pod is made without its files`,
    };
    return { templateError: why, podSpec: { state: "unknown", why: why.message } };
  }
  if (from && plan?.kind === "memory") {
    const refused = await prepareCheckpointImage(ctx, from, plan);
    if (refused)
      return { templateError: refused, podSpec: { state: "unknown", why: refused.message } };
  }
  const pod = await ctx.failures.attempt(`create the pod ${namespace}/${name}`, async () => {
    const created = await deps.writer.apply(
      withGpuAllocation(podFromSnapshot(ctx, template, from), ctx.gpuAllocation),
    );
    deps.events.record(sb, "Normal", "PodCreated", `Created the sandbox pod ${name}.`);
    return created;
  });
  return { pod, podSpec: { state: "current" } };
}

/**
 * Labels are the one part of the pod that the Sandbox controls and that can
 * change on a running pod. A merge patch sets them and leaves the spec (and
 * others' labels) alone. A label taken out of `spec.metadata` stays on the
 * running pod: it cannot be told from a label someone else set.
 */
async function syncPodLabels(ctx: SandboxContext, live: k8s.V1Pod): Promise<void> {
  const want = podLabels(ctx.sb);
  const drift = driftedFrom(live.metadata?.labels ?? {}, want);
  if (drift.length === 0) return;
  const name = live.metadata?.name ?? ctx.name;
  repaired(
    ctx,
    "Pod",
    name,
    drift.map((key) => `metadata.labels.${key}`),
  );
  await ctx.deps.writer.patchLabels(
    { apiVersion: "v1", kind: "Pod", namespace: ctx.namespace, name },
    want,
  );
}

function specView(
  ctx: SandboxContext,
  live: k8s.V1Pod,
  template: SandboxTemplate | TemplateError | undefined,
  pool: string | undefined,
): PodSpecView {
  if (!template) return { state: "unknown", why: "the template could not be read" };
  if (template instanceof TemplateError)
    return { state: "unknown", why: `the template cannot be used: ${template.message}` };
  const restoredFrom = live.metadata?.annotations?.[RESTORE_FROM_ANNOTATION];
  if (!pool) return podSpecView(live, podFromSnapshot(ctx, template, restoredFrom));
  // A taken pod was made as its pool makes pods: compare it with what the pool would make now.
  const spec = poolPodSpec(pool, template, ctx.deps.settings);
  return podSpecView(live, {
    metadata: { annotations: { [Annotation.podSpecHash]: podSpecHash(spec) } },
    spec,
  });
}

/**
 * The resolved template, or the TemplateError that says why there is none (a restore takes the
 * template its Snapshot recorded).
 */
export async function templateOf(ctx: {
  sb: Sandbox;
  namespace: string;
  deps: Pick<SandboxReconcilerDeps, "reader" | "caches">;
}): Promise<SandboxTemplate | TemplateError> {
  const { templateRef: ref, restoreFrom } = ctx.sb.spec;
  const configMap = ref ? await ctx.deps.reader.configMap(ctx.namespace, ref) : undefined;
  const snapshot = restoreFrom
    ? ctx.deps.caches.snapshots?.get(restoreFrom, ctx.namespace)
    : undefined;
  try {
    return resolveTemplate(ctx.sb, configMap, snapshot);
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
}

function ownedBy(pod: k8s.V1Pod, sb: Sandbox): boolean {
  return (
    pod.metadata?.ownerReferences?.some((o) => o.controller && o.uid === sb.metadata.uid) ?? false
  );
}

/** A pod whose containers will not run again. Pure. */
export function isFinished(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
}
