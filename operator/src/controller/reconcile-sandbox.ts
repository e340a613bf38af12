import { isDeepStrictEqual } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { SandboxConditionType as ConditionType, findCondition } from "../../../api/conditions.js";
import { SandboxResource, type Sandbox, type SandboxStatus } from "../../../api/gen/crd-types.js";
import { apply, statusOf, upToDate } from "../kube/apply.js";
import type { EventRecorder } from "../kube/events.js";
import type { Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import type { OperatorMetrics } from "../metrics.js";
import type { ReconcileResult } from "../work-queue.js";
import { desiredNetworkPolicy } from "../sandbox/desired-network-policy.js";
import { desiredPod } from "../sandbox/desired-pod.js";
import { tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import { desiredTokenSecret, newAccessToken } from "../sandbox/desired-secret.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";
import { computeStatus, desiredPaused, envdEndpoint } from "../sandbox/status.js";
import { TemplateError, resolveTemplate } from "../../../api/template.js";
import { expiresAt, isExpired, requeueAfterMs } from "../../../api/expiry.js";
import type { EnvdClient } from "./envd-client.js";

/** The informer caches a Sandbox reconcile reads. */
export interface SandboxCaches {
  sandboxes: Cache<Sandbox>;
  pods: Cache<k8s.V1Pod>;
  secrets: Cache<k8s.V1Secret>;
  networkPolicies: Cache<k8s.V1NetworkPolicy>;
}

/** What {@link createSandboxReconciler} needs. */
export interface SandboxReconcilerDeps {
  kubeConfig: k8s.KubeConfig;
  caches: SandboxCaches;
  settings: SandboxPodSettings;
  envd: EnvdClient;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  now?: () => Date;
}

/** How long to wait before looking again at a sandbox whose template is missing or bad. */
const TEMPLATE_RETRY_MS = 30_000;

/**
 * Reconciles one Sandbox, level-triggered: read the caches, bring the children
 * (token Secret, NetworkPolicy, pod) to what the pure functions say, freeze or
 * thaw through envd, then write the status once if it changed. Every step is
 * safe to repeat, so a crash anywhere is repaired by the next reconcile.
 */
export function createSandboxReconciler(deps: SandboxReconcilerDeps) {
  const objects = k8s.KubernetesObjectApi.makeApiClient(deps.kubeConfig);
  const core = deps.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const custom = deps.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const now = deps.now ?? (() => new Date());
  const resource = {
    group: SandboxResource.group,
    version: SandboxResource.version,
    plural: SandboxResource.plural,
  };

  /** The access token: from the cache, else the API (the cache may lag), else a new Secret. */
  async function ensureToken(sb: Sandbox): Promise<string> {
    const namespace = sb.metadata.namespace ?? "default";
    const name = tokenSecretName(sb.metadata.name ?? "");
    let secret: k8s.V1Secret | undefined = deps.caches.secrets.get(name, namespace);
    if (!secret) {
      secret = await core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      });
    }
    const existing = tokenFromSecret(secret);
    if (existing) {
      const token = existing;
      const desired = desiredTokenSecret(sb, token);
      if (!upToDate(secret, desired)) await apply(objects, desired);
      return token;
    }
    // Never overwrite a token another reconcile may have created a moment ago:
    // create, and on a conflict read what won.
    const token = newAccessToken();
    const desired = desiredTokenSecret(sb, token);
    try {
      await objects.create(desired, undefined, undefined, "soulbox-operator");
      return token;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      const won = tokenFromSecret(await core.readNamespacedSecret({ name, namespace }));
      if (!won) throw new Error(`the Secret ${namespace}/${name} holds no token`, { cause: err });
      return won;
    }
  }

  async function readTemplateConfigMap(sb: Sandbox): Promise<k8s.V1ConfigMap | undefined> {
    if (!sb.spec.templateRef) return undefined;
    return core
      .readNamespacedConfigMap({
        name: sb.spec.templateRef,
        namespace: sb.metadata.namespace ?? "default",
      })
      .catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      });
  }

  async function deleteExpired(sb: Sandbox, at: string) {
    deps.events.record(
      sb,
      "Normal",
      "Expired",
      `The timeout passed at ${at}; deleting the sandbox.`,
    );
    await custom
      .deleteNamespacedCustomObject({
        ...resource,
        namespace: sb.metadata.namespace ?? "default",
        name: sb.metadata.name ?? "",
        body: { preconditions: { uid: sb.metadata.uid } },
      })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      });
  }

  return async function reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace = "", name = ""] = key.split("/");
    const sb = deps.caches.sandboxes.get(name, namespace);
    if (!sb || sb.metadata.deletionTimestamp) return; // children go with their owner
    const t = now();
    const log = deps.log.with({ sandbox: key });

    const expiry = expiresAt(sb, sb.status?.startedAt);
    if (expiry && isExpired(expiry, t) && (sb.spec.onTimeout ?? "Delete") === "Delete") {
      log.info("sandbox expired; deleting it", { expiresAt: expiry });
      await deleteExpired(sb, expiry);
      return;
    }

    const token = await ensureToken(sb);
    const { policy, unenforced } = desiredNetworkPolicy(sb);
    if (!upToDate(deps.caches.networkPolicies.get(policy.metadata?.name ?? "", namespace), policy))
      await apply(objects, policy);

    let pod = deps.caches.pods.get(name, namespace);
    const ours = (p: k8s.V1Pod) =>
      p.metadata?.ownerReferences?.some((o) => o.controller && o.uid === sb.metadata.uid) ?? false;
    let templateError: { reason: string; message: string } | undefined;
    if (pod && !ours(pod)) {
      // A pod of this name left by an earlier Sandbox of the same name: wait until it is gone.
      log.info("a pod of this name belongs to something else; waiting for it to go");
      pod = undefined;
    } else if (pod && !pod.metadata?.deletionTimestamp && isFinished(pod)) {
      log.info("the sandbox pod finished; replacing it", { phase: pod.status?.phase });
      await core.deleteNamespacedPod({ name, namespace }).catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
    } else if (!pod) {
      try {
        const template = resolveTemplate(sb, await readTemplateConfigMap(sb));
        pod = await apply(objects, desiredPod(sb, template, deps.settings));
        deps.events.record(sb, "Normal", "PodCreated", `Created the sandbox pod ${name}.`);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        templateError = { reason: err.reason, message: err.message };
        if (findCondition(sb.status?.conditions, ConditionType.Ready)?.reason !== err.reason)
          deps.events.record(sb, "Warning", err.reason, err.message);
      }
    }

    const pause = desiredPaused(sb, t, expiry);
    let frozen: boolean | undefined;
    const endpoint = pod?.status?.podIP ? envdEndpoint(pod.status.podIP) : undefined;
    const wasPaused = findCondition(sb.status?.conditions, ConditionType.Paused)?.status === "True";
    if (endpoint && pod && isPodReady(pod) && !pause.refused) {
      // Freeze is idempotent: asking again repairs a pod that restarted unfrozen.
      if (pause.paused) frozen = await deps.envd.setFrozen(endpoint, token, true);
      else if (wasPaused) frozen = await deps.envd.setFrozen(endpoint, token, false);
    }

    const status = computeStatus(sb, {
      now: t,
      pod,
      podName: name,
      templateError,
      frozen,
      unenforcedEgress: unenforced,
    });
    if (!isDeepStrictEqual(status, sb.status ?? {})) await writeStatus(sb, status);
    announce(sb, status, t);

    if (templateError) return { requeueAfterMs: TEMPLATE_RETRY_MS };
    const nextExpiry = status.expiresAt;
    if (nextExpiry && !isExpired(nextExpiry, t))
      return { requeueAfterMs: requeueAfterMs(nextExpiry, t) };
  };

  async function writeStatus(sb: Sandbox, status: SandboxStatus) {
    await custom.replaceNamespacedCustomObjectStatus({
      ...resource,
      namespace: sb.metadata.namespace ?? "default",
      name: sb.metadata.name ?? "",
      body: { ...sb, status },
    });
  }

  /** Events and metrics for what changed between the old status and the new one. */
  function announce(sb: Sandbox, status: SandboxStatus, t: Date) {
    const before = sb.status?.phase;
    if (status.phase && status.phase !== before) {
      const warning = status.phase === "Failed";
      deps.events.record(
        sb,
        warning ? "Warning" : "Normal",
        status.phase,
        `The sandbox is ${status.phase}${before ? ` (was ${before})` : ""}.`,
      );
    }
    if (status.startedAt && !sb.status?.startedAt && sb.metadata.creationTimestamp) {
      const created = new Date(sb.metadata.creationTimestamp).getTime();
      deps.metrics.timeToReady.observe(Math.max(0, (t.getTime() - created) / 1000));
    }
  }
}

/** A pod whose containers will not run again. Pure. */
export function isFinished(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
}

/** The pod's Ready condition (every container, the envd readiness probe included). Pure. */
export function isPodReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}
