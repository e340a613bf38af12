/**
 * A Sandbox taking a ready pod of a SandboxPool (a warm start), and giving envd there the
 * Sandbox's identity. A fork of a Filesystem Snapshot takes one too when a pool's pods run its
 * template exactly and the template starts no command: the node agent puts the files back into
 * the running pod before envd gets the identity (no cold pod start on the restore's path).
 *
 * The take is one merge patch of the pod's metadata guarded by its resourceVersion: the owner
 * reference moves from the pool to the Sandbox and the labels become the Sandbox's. Two
 * Sandboxes that pick the same pod cannot both succeed (the second gets 409 and tries the next
 * pod), and a pool scaling down deletes a pod only at the version it saw, so never a pod taken
 * meanwhile. A pod is never given back: once taken it goes with its Sandbox.
 *
 * Until envd holds the Sandbox's token and environment (`POST /init`, authenticated with the
 * pool's token) the Sandbox is not Ready, so no user call reaches the pod before it is the
 * Sandbox's. The pod records whose identity envd holds (`Annotation.identity`) with the pod's
 * container restarts at that time: a restarted envd starts again from the pool's token, so a
 * changed count means it is given again.
 */
import type * as k8s from "@kubernetes/client-node";
import type { Sandbox, SandboxPool, SandboxTemplate } from "../../../api/gen/crd-types.js";
import { poolTokenSecretName, tokenFromSecret } from "../../../api/envd.js";
import { Annotation, Label, labelValue } from "../../../api/labels.js";
import { RESTORE_FROM_ANNOTATION, type RestorePlan } from "../../../api/snapshot.js";
import { POOL_POD_COMPONENT, poolPodSpec } from "../pool/desired-pool.js";
import { podLabels, podSpecHash } from "../sandbox/desired-pod.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";
import { ownerReference } from "../sandbox/owner.js";
import { envdEndpoint } from "../sandbox/status.js";
import { statusOf } from "../kube/errors.js";
import { EnvdCallError } from "./envd-client.js";
import type { SandboxContext } from "./sandbox-children.js";
import { isPodReady } from "./pod-ready.js";

/**
 * The pool a Sandbox takes a pod from: `spec.poolRef`, else the first pool (by name) of its
 * `templateRef`; none for a cold start (`coldStart`, a GPU, an inline template, a restore or a
 * resume from a Snapshot, volume
 * mounts: a pool pod has no claims mounted), a
 * missing pool, or a pool of another template (its pods would not run the Sandbox's). Pure.
 */
export function poolFor(sb: Sandbox, pools: readonly SandboxPool[]): SandboxPool | undefined {
  const spec = sb.spec;
  if (
    spec.coldStart ||
    spec.gpu ||
    spec.restoreFrom ||
    sb.status?.lastSnapshot ||
    spec.volumeMounts?.length ||
    !spec.templateRef
  )
    return undefined;
  const usable = pools.filter(
    (p) => !p.metadata.deletionTimestamp && p.spec.templateRef === spec.templateRef,
  );
  if (spec.poolRef) return usable.find((p) => p.metadata.name === spec.poolRef);
  return [...usable].sort((a, b) =>
    (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
  )[0];
}

/**
 * Whether `sb`'s pod, made from the Snapshot `plan` describes, may be a pool's pod: a fork
 * (`spec.restoreFrom`) of a Filesystem Snapshot whose template starts no command, so nothing
 * runs in the pod that could see the files missing before the agent puts them back. A resume
 * (`status.lastSnapshot`) never is: it keeps the hostname of its own pod. Nor is a Memory
 * Snapshot (its container is made from the checkpoint image) or what no pool serves (`coldStart`,
 * a GPU, volume mounts). Pure.
 */
export function restoresIntoPoolPod(
  sb: Sandbox,
  plan: RestorePlan | undefined,
  template: SandboxTemplate,
): boolean {
  const spec = sb.spec;
  return (
    spec.restoreFrom !== undefined &&
    !sb.status?.lastSnapshot &&
    plan?.kind === "filesystem" &&
    !template.command?.length &&
    !template.args?.length &&
    !spec.coldStart &&
    !spec.gpu &&
    !spec.volumeMounts?.length
  );
}

/**
 * The ready pods of every pool (by name) whose pods are exactly what the pool makes of
 * `template` (the Snapshot's), oldest first within a pool: a restore may take any of them. Pure.
 */
export function poolPodsRunning(
  template: SandboxTemplate,
  pools: readonly SandboxPool[],
  pods: readonly k8s.V1Pod[],
  settings: SandboxPodSettings,
): { pool: SandboxPool; pod: k8s.V1Pod }[] {
  return [...pools]
    .filter((p) => !p.metadata.deletionTimestamp)
    .sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""))
    .flatMap((pool) => {
      const want = podSpecHash(poolPodSpec(pool.metadata.name ?? "", template, settings));
      return readyPoolPods(pool, pods)
        .filter((pod) => pod.metadata?.annotations?.[Annotation.podSpecHash] === want)
        .map((pod) => ({ pool, pod }));
    });
}

/** Whether `pod` is a pool's pod that no Sandbox took yet, owned by `pool`. Pure. */
export function isUntakenPodOf(pod: k8s.V1Pod, pool: SandboxPool): boolean {
  return (
    pod.metadata?.labels?.[Label.component] === POOL_POD_COMPONENT &&
    (pod.metadata.ownerReferences?.some((o) => o.controller && o.uid === pool.metadata.uid) ??
      false)
  );
}

/** The pool's untaken, Ready pods that are not being deleted, oldest first. Pure. */
export function readyPoolPods(pool: SandboxPool, pods: readonly k8s.V1Pod[]): k8s.V1Pod[] {
  return pods
    .filter((p) => isUntakenPodOf(p, pool) && !p.metadata?.deletionTimestamp && isPodReady(p))
    .sort((a, b) =>
      String(a.metadata?.creationTimestamp ?? "").localeCompare(
        String(b.metadata?.creationTimestamp ?? ""),
      ),
    );
}

/** Whether `pod` is a pool pod that `sb` took. Pure. */
export function isTakenBy(pod: k8s.V1Pod, sb: Sandbox): boolean {
  return (
    pod.metadata?.labels?.[Label.pool] !== undefined &&
    (pod.metadata.ownerReferences?.some((o) => o.controller && o.uid === sb.metadata.uid) ?? false)
  );
}

/**
 * The pool pod the Sandbox took, if it took one: from the cache, else (only when `live`) from
 * the API server, since a take of a moment ago may not be in the cache yet and taking a second
 * pod would leak the first.
 */
export async function findTakenPod(
  ctx: SandboxContext,
  live: boolean,
): Promise<k8s.V1Pod | undefined> {
  const { sb, namespace, deps } = ctx;
  // The status names the pod once a reconcile wrote it: no scan of the namespace's pods then.
  const named = sb.status?.podName ? deps.caches.pods.get(sb.status.podName, namespace) : undefined;
  if (named && isTakenBy(named, sb)) return named;
  const cached = deps.caches.pods.list(namespace).find((p) => isTakenBy(p, sb));
  if (cached || !live) return cached;
  const pods = await deps.reader.pods(namespace, `${Label.sandbox}=${labelValue(ctx.name)}`);
  return pods.find((p) => isTakenBy(p, sb));
}

/**
 * Takes a ready pod of the Sandbox's pool; undefined when there is no pool or no ready pod (a
 * cold start follows). Tries the pods in turn: one another Sandbox took first (409) or that
 * went away (404) is skipped. `restore`: the Sandbox is a fork that {@link restoresIntoPoolPod}
 * allows; it takes a pod of any pool that runs its Snapshot's template, and the pod is marked
 * as restored from `restore.from` (the files go back before the identity).
 */
export async function takePoolPod(
  ctx: SandboxContext,
  now: Date,
  restore?: { from: string; template: SandboxTemplate },
): Promise<{ pod: k8s.V1Pod; pool: string } | undefined> {
  const { sb, namespace, deps } = ctx;
  if (restore) {
    const candidates = poolPodsRunning(
      restore.template,
      deps.caches.pools.list(namespace),
      deps.caches.pods.list(namespace),
      deps.settings,
    );
    const took = await takeFirst(ctx, now, candidates, {
      [RESTORE_FROM_ANNOTATION]: restore.from,
    });
    if (!took) ctx.log.info("no ready pool pod runs the Snapshot's template; starting a pod");
    return took;
  }
  const pool = poolFor(sb, deps.caches.pools.list(namespace));
  if (!pool) return undefined;
  const poolName = pool.metadata.name ?? "";
  const key = `${namespace}/${poolName}`;
  const pods = readyPoolPods(pool, deps.caches.pods.list(namespace));
  const took = await takeFirst(
    ctx,
    now,
    pods.map((pod) => ({ pool, pod })),
    {},
  );
  if (took) return took;
  deps.claims.record(key, now);
  deps.metrics.poolClaims.inc({ pool: key, result: "miss" });
  deps.events.record(
    sb,
    "Normal",
    "PoolEmpty",
    `The SandboxPool ${poolName} has no ready pod; starting a pod of the sandbox's own.`,
  );
  return undefined;
}

/** Takes the first of `candidates` no other Sandbox took first; undefined when none is left. */
async function takeFirst(
  ctx: SandboxContext,
  now: Date,
  candidates: readonly { pool: SandboxPool; pod: k8s.V1Pod }[],
  annotations: Record<string, string>,
): Promise<{ pod: k8s.V1Pod; pool: string } | undefined> {
  const { sb, namespace, deps, log } = ctx;
  const take = {
    ownerReferences: [ownerReference(sb)],
    labels: podLabels(sb),
    annotations: { [Annotation.claimedAt]: now.toISOString(), ...annotations },
  };
  for (const { pool, pod } of candidates) {
    const poolName = pool.metadata.name ?? "";
    const podName = pod.metadata?.name ?? "";
    let taken: k8s.V1Pod;
    try {
      // As stored: the identity's patch that follows needs the pod's new resourceVersion.
      taken = (await deps.writer.patchMetadataAt(
        { apiVersion: "v1", kind: "Pod", namespace, name: podName },
        pod.metadata?.resourceVersion ?? "",
        take,
      )) as k8s.V1Pod;
    } catch (err) {
      const status = statusOf(err);
      if (status === 409 || status === 404) continue;
      throw err;
    }
    const key = `${namespace}/${poolName}`;
    deps.claims.record(key, now);
    deps.metrics.poolClaims.inc({ pool: key, result: "hit" });
    log.info("took a ready pod of the pool", { pool: poolName, pod: podName });
    deps.events.record(
      sb,
      "Normal",
      "PoolPodTaken",
      `Took the ready pod ${podName} of the SandboxPool ${poolName}.`,
    );
    return { pod: taken, pool: poolName };
  }
  return undefined;
}

/** The pool a taken pod came from (its `soulbox.dev/pool` label). */
export function poolOf(pod: k8s.V1Pod): string {
  return pod.metadata?.labels?.[Label.pool] ?? "";
}

/** `<sandbox uid>/<container restarts>`: whose identity envd should hold. Pure. */
export function identityOf(sb: Sandbox, pod: k8s.V1Pod): string {
  const restarts = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ].reduce((n, c) => n + (c.restartCount ?? 0), 0);
  return `${sb.metadata.uid ?? ""}/${restarts}`;
}

/**
 * Gives envd in the taken pod the Sandbox's token and environment, unless the pod records that
 * it holds them. Resolves to what is still awaited (for the Ready condition), or undefined
 * when envd holds the Sandbox's identity.
 */
export async function syncIdentity(
  ctx: SandboxContext,
  pod: k8s.V1Pod,
  token: string | undefined,
  now: Date,
): Promise<string | undefined> {
  const { sb, namespace, deps } = ctx;
  const want = identityOf(sb, pod);
  const had = pod.metadata?.annotations?.[Annotation.identity];
  if (had === want) return undefined;
  const podName = pod.metadata?.name ?? "";
  const ip = pod.status?.podIP;
  if (!ip || !isPodReady(pod)) return `waiting for the pool pod ${podName} to be Ready`;
  if (!token) return "waiting for the sandbox's access token";
  const pool = poolOf(pod);
  const given = await ctx.failures.attempt(
    `give envd in the pod ${namespace}/${podName} the sandbox's identity`,
    async () => {
      const envVars = await envVarsOf(ctx);
      const poolToken = tokenFromSecret(
        deps.caches.secrets.get(poolTokenSecretName(pool), namespace) ??
          (await deps.reader.secret(namespace, poolTokenSecretName(pool))),
      );
      const endpoint = envdEndpoint(ip);
      try {
        if (!poolToken) throw new EnvdCallError(`the pool ${pool} has no token`, 401);
        await deps.envd.init(endpoint, poolToken, { accessToken: token, envVars });
      } catch (err) {
        // Given before, and the annotation's patch did not land: envd holds our token already.
        if (!(err instanceof EnvdCallError) || err.status !== 401) throw err;
        await deps.envd.init(endpoint, token, { accessToken: token, envVars });
      }
      await deps.writer.patchMetadataAt(
        { apiVersion: "v1", kind: "Pod", namespace, name: podName },
        pod.metadata?.resourceVersion ?? "",
        { annotations: { [Annotation.identity]: want } },
      );
      return true;
    },
  );
  if (!given) return `envd in the pool pod ${podName} does not hold the sandbox's identity yet`;
  if (!had && sb.metadata.creationTimestamp) {
    const created = new Date(sb.metadata.creationTimestamp).getTime();
    deps.metrics.poolClaimSeconds.observe(
      { pool: `${namespace}/${pool}` },
      Math.max(0, (now.getTime() - created) / 1000),
    );
  }
  return undefined;
}

/**
 * The Sandbox's `envFrom` Secrets as env vars (later Secrets win, as in a pod): a pod taken from
 * a pool was started without them, so envd gets them through `/init`.
 */
async function envVarsOf(ctx: SandboxContext): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const ref of ctx.sb.spec.envFrom ?? []) {
    const name = ref.secretRef.name;
    const secret = await ctx.deps.reader.secret(ctx.namespace, name);
    if (!secret) throw new Error(`the envFrom Secret ${ctx.namespace}/${name} does not exist`);
    for (const [k, v] of Object.entries(secret.data ?? {}))
      out[k] = Buffer.from(v, "base64").toString("utf8");
  }
  return out;
}
