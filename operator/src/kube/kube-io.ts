/**
 * The Sandbox reconciler's writes and direct reads, with client-node against
 * the API server (see `controller/sandbox-io.ts` for the contract).
 */
import * as k8s from "@kubernetes/client-node";
import { MANAGER } from "../../../api/labels.js";
import {
  SandboxPoolResource,
  SandboxResource,
  SnapshotResource,
  type Snapshot,
} from "../../../api/gen/crd-types.js";
import { customObjectRef } from "../../../lib/custom-resource.js";
import type { ObjectRef, SandboxReader, SandboxWriter } from "../controller/sandbox-io.js";
import type { SnapshotWriter } from "../controller/reconcile-snapshot.js";
import { statusOf } from "./errors.js";

const SANDBOXES = customObjectRef(SandboxResource);
const POOLS = customObjectRef(SandboxPoolResource);
const SNAPSHOTS = customObjectRef(SnapshotResource);

/** Writes through the API server, as the operator's field manager. */
export function createKubeWriter(kubeConfig: k8s.KubeConfig): SandboxWriter {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const shell = (ref: ObjectRef) => ({
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace },
  });
  return {
    apply: (desired) =>
      objects.patch(
        desired,
        undefined,
        undefined,
        MANAGER,
        true,
        k8s.PatchStrategy.ServerSideApply,
      ),
    create: (obj) => objects.create(obj, undefined, undefined, MANAGER),
    async patchLabels(ref, labels) {
      const body = shell(ref);
      await objects.patch(
        { ...body, metadata: { ...body.metadata, labels } },
        undefined,
        undefined,
        MANAGER,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
    },
    async patchMetadataAt(ref, resourceVersion, metadata) {
      const body = shell(ref);
      return objects.patch(
        { ...body, metadata: { ...metadata, ...body.metadata, resourceVersion } },
        undefined,
        undefined,
        MANAGER,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
    },
    async delete(ref, opts) {
      const preconditions = {
        ...(opts?.uid ? { uid: opts.uid } : {}),
        ...(opts?.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      };
      const body = Object.keys(preconditions).length ? { preconditions } : undefined;
      await objects
        .delete(shell(ref), undefined, undefined, undefined, undefined, undefined, body)
        .catch((err: unknown) => {
          // 409 with a precondition: the object of that name is a newer one or changed; it stays.
          if (statusOf(err) === 404 || (body && statusOf(err) === 409)) return;
          throw err;
        });
    },
    writeStatus: (sb, status) =>
      custom.replaceNamespacedCustomObjectStatus({
        ...SANDBOXES,
        namespace: sb.metadata.namespace ?? "default",
        name: sb.metadata.name ?? "",
        body: { ...sb, status },
      }) as Promise<typeof sb>,
    writePoolStatus: (pool, status) =>
      custom.replaceNamespacedCustomObjectStatus({
        ...POOLS,
        namespace: pool.metadata.namespace ?? "default",
        name: pool.metadata.name ?? "",
        body: { ...pool, status },
      }) as Promise<typeof pool>,
  };
}

/** The Snapshot reconciler's writes, as the operator's field manager. */
export function createSnapshotWriter(kubeConfig: k8s.KubeConfig): SnapshotWriter {
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  return {
    writeSnapshotStatus: (snap, status) =>
      custom.replaceNamespacedCustomObjectStatus({
        ...SNAPSHOTS,
        namespace: snap.metadata.namespace ?? "default",
        name: snap.metadata.name ?? "",
        body: { ...snap, status },
      }) as Promise<Snapshot>,
    async setSnapshotFinalizers(snap, finalizers) {
      await objects.patch(
        {
          apiVersion: SnapshotResource.apiVersion,
          kind: SnapshotResource.kind,
          metadata: {
            name: snap.metadata.name,
            namespace: snap.metadata.namespace,
            resourceVersion: snap.metadata.resourceVersion,
            finalizers,
          },
        },
        undefined,
        undefined,
        MANAGER,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
    },
  };
}

/** Direct reads of Secrets and ConfigMaps. */
export function createKubeReader(kubeConfig: k8s.KubeConfig): SandboxReader {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const orUndefined = <T>(p: Promise<T>) =>
    p.catch((err: unknown) => {
      if (statusOf(err) === 404) return undefined;
      throw err;
    });
  return {
    secret: (namespace, name) => orUndefined(core.readNamespacedSecret({ namespace, name })),
    configMap: (namespace, name) => orUndefined(core.readNamespacedConfigMap({ namespace, name })),
    pods: async (namespace, labelSelector) =>
      (await core.listNamespacedPod({ namespace, labelSelector })).items,
  };
}
