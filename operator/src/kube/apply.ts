import { canonicalHash } from "../../../lib/canonical-json.js";
import * as k8s from "@kubernetes/client-node";
import { MANAGER } from "../../../api/labels.js";

/** The annotation that records the hash of what the operator last applied to an object. */
export const APPLIED_HASH_ANNOTATION = "soulbox.dev/applied-hash";

/** A stable hash of an object as the operator wants it (key order does not matter). Pure. */
export function objectHash(obj: unknown): string {
  return canonicalHash(obj);
}

/** Returns `desired` with its hash recorded in an annotation. Pure. */
export function withAppliedHash<T extends k8s.KubernetesObject>(desired: T): T {
  const hash = objectHash(desired);
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash },
    },
  };
}

/** True when `current` already carries what `desired` would apply. Pure. */
export function upToDate(current: k8s.KubernetesObject | undefined, desired: k8s.KubernetesObject) {
  return current?.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === objectHash(desired);
}

/**
 * Server-side apply under the operator's one field manager. `force` takes
 * over fields another manager set on the operator's own children: they are
 * the operator's to own.
 */
export async function apply<T extends k8s.KubernetesObject>(
  client: k8s.KubernetesObjectApi,
  desired: T,
): Promise<T> {
  return client.patch(
    withAppliedHash(desired),
    undefined,
    undefined,
    MANAGER,
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
}

/** The HTTP status of a client-node error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === "number") return e.code;
    if (typeof e.statusCode === "number") return e.statusCode;
  }
  return undefined;
}
