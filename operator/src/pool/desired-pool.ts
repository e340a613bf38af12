/**
 * A SandboxPool's children, computed from the pool, its resolved template and the operator's
 * settings alone: the pool's pods (each a sandbox pod that belongs to no Sandbox yet), the token
 * Secret their envd starts with, and the NetworkPolicy that holds them while nobody owns them.
 *
 * A pool pod is a sandbox pod in all but identity: same containers, same probes, so that a
 * Sandbox that takes it gets what a cold start would have made. Its envd starts with the pool's
 * token, which only the operator reads; when a Sandbox takes the pod, the operator gives envd
 * the Sandbox's own token and environment through `POST /init` before anyone else can call it.
 *
 * Until then the pod has no egress at all and is a "sandbox" to every other sandbox's
 * NetworkPolicy (the empty `soulbox.dev/sandbox` label), so other sandboxes cannot reach it.
 */
import { randomBytes } from "node:crypto";
import type { V1NetworkPolicy, V1Pod, V1PodSpec, V1Secret } from "@kubernetes/client-node";
import type { SandboxPool, SandboxTemplate } from "../../../api/gen/crd-types.js";
import { poolTokenSecretName } from "../../../api/envd.js";
import { Annotation, Label, labelValue } from "../../../api/labels.js";
import { tokenSecret } from "../sandbox/desired-secret.js";
import { ownedMetadata, type ChildComponent } from "../sandbox/owner.js";
import { podSpecHash, sandboxPodSpec } from "../sandbox/desired-pod.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";

/** The `soulbox.dev/component` of a pool pod no Sandbox took yet. */
export const POOL_POD_COMPONENT: ChildComponent = "pool-pod";

function metadataOf(pool: SandboxPool, name: string, component: ChildComponent) {
  return ownedMetadata(pool, name, {
    [Label.pool]: labelValue(pool.metadata.name ?? ""),
    [Label.component]: component,
  });
}

/** A new pool pod's name: the pool's, a `-p-` and 5 random characters. */
export function newPoolPodName(pool: string): string {
  const suffix = Array.from(randomBytes(5), (b) => "bcdfghjklmnpqrstvwxz2456789"[b % 27]).join("");
  return `${pool}-p-${suffix}`;
}

/** The pool's spec of its pods (what a Sandbox that takes one runs). Pure. */
export function poolPodSpec(
  pool: string,
  template: SandboxTemplate,
  settings: SandboxPodSettings,
): V1PodSpec {
  return sandboxPodSpec({ tokenSecret: poolTokenSecretName(pool) }, template, settings);
}

/** One pool pod named `name`, for server-side apply. Pure. */
export function desiredPoolPod(
  pool: SandboxPool,
  name: string,
  template: SandboxTemplate,
  settings: SandboxPodSettings,
): V1Pod {
  const spec = poolPodSpec(pool.metadata.name ?? "", template, settings);
  const meta = metadataOf(pool, name, POOL_POD_COMPONENT);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...meta,
      // Empty, not absent: every other sandbox's NetworkPolicy refuses traffic from it.
      labels: { ...meta.labels, [Label.sandbox]: "" },
      annotations: { [Annotation.podSpecHash]: podSpecHash(spec) },
    },
    spec,
  };
}

/** The pool's token Secret (the token is passed in: a live one is kept). Pure. */
export function desiredPoolTokenSecret(pool: SandboxPool, token: string): V1Secret {
  if (!token) throw new Error("a pool's envd token must not be empty");
  return tokenSecret(
    metadataOf(pool, poolTokenSecretName(pool.metadata.name ?? ""), "token"),
    token,
  );
}

/**
 * The NetworkPolicy of the pool's untaken pods: no egress at all, ingress only from pods that
 * are not sandboxes (the operator's `/init`, probes come from the node). A taken pod leaves it
 * (its component label changes) for its Sandbox's own policy. Pure.
 */
export function desiredPoolNetworkPolicy(pool: SandboxPool): V1NetworkPolicy {
  const name = pool.metadata.name ?? "";
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadataOf(pool, `${name}.pool`, "network-policy"),
    spec: {
      podSelector: {
        matchLabels: { [Label.pool]: labelValue(name), [Label.component]: POOL_POD_COMPONENT },
      },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          _from: [
            {
              namespaceSelector: {},
              podSelector: { matchExpressions: [{ key: Label.sandbox, operator: "DoesNotExist" }] },
            },
          ],
        },
      ],
      egress: [],
    },
  };
}

/**
 * How many ready, untaken pods the pool keeps now: as many as were claimed in the last demand
 * window (the next window is expected to need as many), between minReady and maxReady (which
 * defaults to minReady). Pure.
 */
export function poolTarget(spec: SandboxPool["spec"], claimsInWindow: number): number {
  const min = spec.minReady ?? 2;
  const max = Math.max(min, spec.maxReady ?? min);
  return Math.min(max, Math.max(min, claimsInWindow));
}
