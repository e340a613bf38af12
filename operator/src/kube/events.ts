import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../../../lib/log.js";

/** Records Kubernetes Events about objects (what `kubectl describe` shows). */
export interface EventRecorder {
  /** Fire and forget: a failed event must never fail a reconcile. */
  record(
    obj: k8s.KubernetesObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void;
}

/** Creates a recorder that writes core/v1 Events as `component`. */
export function createEventRecorder(
  kubeConfig: k8s.KubeConfig,
  component: string,
  log: Logger,
): EventRecorder {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  return {
    record(obj, type, reason, message) {
      const namespace = obj.metadata?.namespace ?? "default";
      const now = new Date();
      const body: k8s.CoreV1Event = {
        metadata: {
          name: `${obj.metadata?.name ?? "object"}.${randomBytes(8).toString("hex")}`,
          namespace,
        },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata?.name,
          namespace,
          uid: obj.metadata?.uid,
          resourceVersion: obj.metadata?.resourceVersion,
        },
        type,
        reason,
        message,
        source: { component },
        reportingComponent: component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      core.createNamespacedEvent({ namespace, body }).catch((err: unknown) => {
        log.debug("recording an event failed", { reason, error: err });
      });
    },
  };
}
