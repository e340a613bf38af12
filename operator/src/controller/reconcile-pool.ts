/**
 * The SandboxPool reconciler, level-triggered like the Sandbox one: read the caches, bring the
 * pool's token Secret and NetworkPolicy to their desired state, count the pool's untaken pods,
 * create or delete pods until the ready-or-starting count meets the target, then write the
 * status once if it changed. Every step runs even when another fails; a failure is retried with
 * backoff.
 *
 * Pods are never reused: a finished pod, or an untaken one made from an earlier template, is
 * deleted and a new one made. Deletes carry the pod's resourceVersion, so a pod a Sandbox took
 * a moment ago (its owner changed) is never deleted by the pool.
 */
import { isDeepStrictEqual } from "node:util";
import type * as k8s from "@kubernetes/client-node";
import type { SandboxPool, SandboxPoolStatus } from "../../../api/gen/crd-types.js";
import { poolTokenSecretName, tokenFromSecret } from "../../../api/envd.js";
import { Annotation, Label } from "../../../api/labels.js";
import { RESTORE_FROM_ANNOTATION } from "../../../api/snapshot.js";
import { TemplateError, templateFromConfigMap } from "../../../api/template.js";
import type { Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import type { EventRecorder } from "../kube/events.js";
import { statusOf } from "../kube/errors.js";
import type { OperatorMetrics } from "../metrics.js";
import { claimRate, type ClaimLog } from "../pool/claim-log.js";
import {
  POOL_POD_COMPONENT,
  desiredPoolNetworkPolicy,
  desiredPoolPod,
  desiredPoolTokenSecret,
  newPoolPodName,
  poolPodSpec,
  poolTarget,
} from "../pool/desired-pool.js";
import { podSpecHash } from "../sandbox/desired-pod.js";
import { newAccessToken } from "../sandbox/desired-secret.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";
import type { ReconcileResult } from "../work-queue.js";
import { collectedError, createFailures, type Failures } from "./failures.js";
import { isPodReady } from "./pod-ready.js";
import { isUntakenPodOf } from "./pool-claim.js";
import { isFinished, objectDrift } from "./sandbox-children.js";
import type { SandboxReader, SandboxWriter } from "./sandbox-io.js";

/** What {@link createPoolReconciler} needs. */
export interface PoolReconcilerDeps {
  caches: {
    pools: Cache<SandboxPool>;
    pods: Cache<k8s.V1Pod>;
    secrets: Cache<k8s.V1Secret>;
    networkPolicies: Cache<k8s.V1NetworkPolicy>;
  };
  writer: SandboxWriter;
  reader: SandboxReader;
  settings: SandboxPodSettings;
  claims: ClaimLog;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  now?: () => Date;
}

/** How long to wait before looking again at a pool whose template is missing or bad. */
const TEMPLATE_RETRY_MS = 30_000;

/** What the pool's untaken pods are. Pure. */
export function countPoolPods(
  pool: SandboxPool,
  pods: readonly k8s.V1Pod[],
  currentHash: string | undefined,
) {
  const mine = pods.filter((p) => isUntakenPodOf(p, pool) && !p.metadata?.deletionTimestamp);
  const stale = (p: k8s.V1Pod) =>
    currentHash !== undefined && p.metadata?.annotations?.[Annotation.podSpecHash] !== currentHash;
  const gone = mine.filter((p) => isFinished(p) || stale(p));
  const usable = mine.filter((p) => !gone.includes(p));
  return {
    gone,
    ready: usable.filter(isPodReady),
    starting: usable.filter((p) => !isPodReady(p)),
  };
}

/**
 * How many pods a pool starts at most at once. Starting a pod costs the node a burst of CPU
 * (containers, envd, the executor); a pool refilling 30 taken pods at once slowed the 30
 * sandboxes that had just taken them (bench:pool's burst row).
 */
export const POOL_STARTING_AT_ONCE = 4;

/**
 * How long at most a pool holds its refill back for a fork restoring into a pod it gave: the
 * restore (files put back, then envd's identity) is what the fork waits for, and a pod the pool
 * starts at that moment takes the same node's CPU. A restore that takes longer (failing, being
 * retried) no longer holds the pool.
 */
export const RESTORE_HOLD_MS = 30_000;

/**
 * The pods a fork took from pool `poolName` and is restoring into, taken less than
 * {@link RESTORE_HOLD_MS} before `t`: a Snapshot to put back (`soulbox.dev/restore-from`) and no
 * identity given to envd yet (it is given after the files). Pure.
 */
export function forksRestoring(poolName: string, pods: readonly k8s.V1Pod[], t: Date): k8s.V1Pod[] {
  return pods.filter((p) => {
    const a = p.metadata?.annotations ?? {};
    return (
      p.metadata?.labels?.[Label.pool] === poolName &&
      p.metadata.labels[Label.component] !== POOL_POD_COMPONENT &&
      !p.metadata.deletionTimestamp &&
      a[RESTORE_FROM_ANNOTATION] !== undefined &&
      a[Annotation.identity] === undefined &&
      holdLeftMs(p, t) > 0
    );
  });
}

/** How long `pod`'s restore still holds its pool's refill at `t` (NaN: no take time). Pure. */
function holdLeftMs(pod: k8s.V1Pod, t: Date): number {
  const takenAt = Date.parse(pod.metadata?.annotations?.[Annotation.claimedAt] ?? "");
  return takenAt + RESTORE_HOLD_MS - t.getTime();
}

/** How many pods to create now: up to the target, with at most {@link POOL_STARTING_AT_ONCE} starting. Pure. */
export function poolPodsToCreate(target: number, have: number, starting: number): number {
  return Math.max(0, Math.min(target - have, POOL_STARTING_AT_ONCE - starting));
}

/** Creates the reconcile function of SandboxPools (key: `namespace/name`). */
export function createPoolReconciler(deps: PoolReconcilerDeps) {
  const now = deps.now ?? (() => new Date());
  /**
   * Pods this process created and the cache may not show yet (name → when), per pool: counted
   * as starting, so a reconcile right after a create does not create again (the "expectations"
   * of Kubernetes' ReplicaSet controller).
   */
  const created = new Map<string, Map<string, number>>();
  const EXPECT_MS = 30_000;
  function unseen(key: string, pods: readonly k8s.V1Pod[], t: Date): number {
    const mine = created.get(key);
    if (!mine) return 0;
    const names = new Set(pods.map((p) => p.metadata?.name));
    for (const [podName, at] of mine)
      if (names.has(podName) || t.getTime() - at > EXPECT_MS) mine.delete(podName);
    return mine.size;
  }

  return async function reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace = "", name = ""] = key.split("/");
    const pool = deps.caches.pools.get(name, namespace);
    if (!pool || pool.metadata.deletionTimestamp) return;
    const t = now();
    const log = deps.log.with({ pool: key });
    const failures = createFailures();

    await failures.attempt(`apply the Secret ${namespace}/${poolTokenSecretName(name)}`, () =>
      syncPoolToken(pool),
    );
    const policy = desiredPoolNetworkPolicy(pool);
    await failures.attempt(`apply the NetworkPolicy ${namespace}/${policy.metadata?.name}`, () =>
      applyIfDrifted(
        deps.caches.networkPolicies.get(policy.metadata?.name ?? "", namespace),
        policy,
      ),
    );
    const template = await failures.attempt(
      `read the template ConfigMap ${namespace}/${pool.spec.templateRef}`,
      async () => {
        const cm = await deps.reader.configMap(namespace, pool.spec.templateRef);
        try {
          return templateFromConfigMap(pool.spec.templateRef, namespace, cm);
        } catch (err) {
          if (err instanceof TemplateError) return err;
          throw err;
        }
      },
    );
    const usable = template && !(template instanceof TemplateError) ? template : undefined;
    const hash = usable ? podSpecHash(poolPodSpec(name, usable, deps.settings)) : undefined;
    const listed = deps.caches.pods.list(namespace);
    const pods = countPoolPods(pool, listed, hash);
    const windowMs = (pool.spec.demandWindowSeconds ?? 300) * 1000;
    const demand = deps.claims.recent(key, windowMs, t);
    const target = poolTarget(pool.spec, demand.count);

    for (const p of pods.gone)
      await deletePod(p, failures, "finished or made from an earlier template");
    const expected = unseen(key, deps.caches.pods.list(namespace), t);
    const have = pods.ready.length + pods.starting.length;
    // A pod event (the identity patch) brings the pool back once the restore is done.
    const restoring = forksRestoring(name, listed, t);
    const toCreate =
      usable && restoring.length === 0
        ? poolPodsToCreate(target, have + expected, pods.starting.length + expected)
        : 0;
    if (usable)
      for (let i = 0; i < toCreate; i++)
        await failures.attempt(`create a pod of the pool ${key}`, async () => {
          const pod = desiredPoolPod(pool, newPoolPodName(name), usable, deps.settings);
          await deps.writer.create(pod);
          const mine = created.get(key) ?? new Map<string, number>();
          created.set(key, mine.set(pod.metadata?.name ?? "", t.getTime()));
        });
    // The surplus goes starting pods first (they cost least), then the newest ready ones.
    const surplus = [...pods.starting, ...[...pods.ready].reverse()].slice(
      0,
      Math.max(0, have - target),
    );
    for (const p of surplus) await deletePod(p, failures, "more than the pool's target");

    const status: SandboxPoolStatus = {
      ready: pods.ready.length,
      // Pods created and not in the cache yet are starting too.
      starting: pods.starting.length + (created.get(key)?.size ?? 0),
      target,
      claimed: demand.count,
      claimRate: claimRate(demand.count, windowMs),
      ...(demand.last
        ? { lastClaimTime: demand.last.toISOString() }
        : pool.status?.lastClaimTime
          ? { lastClaimTime: pool.status.lastClaimTime }
          : {}),
      ...(pool.metadata.generation !== undefined
        ? { observedGeneration: pool.metadata.generation }
        : {}),
    };
    deps.metrics.poolPods.set({ pool: key, state: "ready" }, status.ready ?? 0);
    deps.metrics.poolPods.set({ pool: key, state: "starting" }, status.starting ?? 0);
    deps.metrics.poolTarget.set({ pool: key }, target);
    if (!isDeepStrictEqual(status, pool.status ?? {}))
      await failures.attempt(`write the status of the SandboxPool ${key}`, () =>
        deps.writer.writePoolStatus(pool, status),
      );
    if (template instanceof TemplateError)
      log.warn("the pool's template cannot be used", { error: template.message });

    const failed = collectedError(failures.list);
    if (failed) throw failed;
    if (!usable) return { requeueAfterMs: TEMPLATE_RETRY_MS };
    // The demand window moves on with no event: look again when the oldest claim leaves it.
    // A held refill goes on at the latest when the hold of the oldest restoring fork ends.
    const after = [
      ...(demand.count > 0 ? [Math.min(windowMs, 30_000)] : []),
      ...restoring.map((p) => Math.max(1, holdLeftMs(p, t))),
    ];
    if (after.length > 0) return { requeueAfterMs: Math.min(...after) };
    // Pods that could not be created yet come when a starting one is Ready (a pod event).
  };

  async function deletePod(pod: k8s.V1Pod, failures: Failures, why: string) {
    const ref = {
      apiVersion: "v1",
      kind: "Pod",
      namespace: pod.metadata?.namespace ?? "",
      name: pod.metadata?.name ?? "",
    };
    await failures.attempt(`delete the pool pod ${ref.namespace}/${ref.name} (${why})`, () =>
      deps.writer.delete(ref, { resourceVersion: pod.metadata?.resourceVersion ?? "" }),
    );
  }

  async function syncPoolToken(pool: SandboxPool): Promise<void> {
    const namespace = pool.metadata.namespace ?? "";
    const name = poolTokenSecretName(pool.metadata.name ?? "");
    const live =
      deps.caches.secrets.get(name, namespace) ?? (await deps.reader.secret(namespace, name));
    const existing = tokenFromSecret(live);
    if (existing) {
      await applyIfDrifted(live, desiredPoolTokenSecret(pool, existing));
      return;
    }
    try {
      await deps.writer.create(desiredPoolTokenSecret(pool, newAccessToken()));
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  async function applyIfDrifted<T extends k8s.KubernetesObject>(live: T | undefined, desired: T) {
    if (live && objectDrift(live, desired).length === 0) return;
    await deps.writer.apply(desired);
  }
}
