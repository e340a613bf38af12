/**
 * The Sandbox reconciler's writes and direct reads, with client-node against
 * the API server (see `controller/sandbox-io.ts` for the contract).
 */
import * as k8s from "@kubernetes/client-node";
import { MANAGER } from "../../../api/labels.js";
import { SandboxResource } from "../../../api/gen/crd-types.js";
import { customObjectRef } from "../../../lib/custom-resource.js";
import type { ObjectRef, SandboxReader, SandboxWriter } from "../controller/sandbox-io.js";
import { statusOf } from "./errors.js";

const SANDBOXES = customObjectRef(SandboxResource);

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
    async delete(ref, opts) {
      const body = opts?.uid ? { preconditions: { uid: opts.uid } } : undefined;
      await objects
        .delete(shell(ref), undefined, undefined, undefined, undefined, undefined, body)
        .catch((err: unknown) => {
          // 409 with a uid precondition: the object of that name is a newer one; ours is gone.
          if (statusOf(err) === 404 || (opts?.uid && statusOf(err) === 409)) return;
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
  };
}
