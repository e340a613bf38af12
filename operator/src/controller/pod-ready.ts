import type * as k8s from "@kubernetes/client-node";

/** The pod's Ready condition (every container, the envd readiness probe included). Pure. */
export function isPodReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}
