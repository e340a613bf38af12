/**
 * Everything a Sandbox reconcile does to the cluster beyond reading its
 * informer caches, as two small interfaces: the writes, and the few direct
 * reads. The reconciler takes them injected, so a unit test can run it
 * against an in-memory world and count its writes (a level-triggered
 * reconcile of a settled world writes nothing); `kube/kube-io.ts` implements
 * them with client-node.
 */
import type { KubernetesObject, V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type {
  Sandbox,
  SandboxPool,
  SandboxPoolStatus,
  SandboxStatus,
} from "../../../api/gen/crd-types.js";

/** Names one object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The reconciler's writes. Each rejects with the API's error (see `kube/errors.ts`). */
export interface SandboxWriter {
  /**
   * Server-side apply of `desired` under the operator's one field manager,
   * forced (the operator's children are its own to own); resolves to the
   * object as stored.
   */
  apply<T extends KubernetesObject>(desired: T): Promise<T>;
  /** Creates `obj`; rejects with a 409 error when it exists already. */
  create<T extends KubernetesObject>(obj: T): Promise<T>;
  /** Sets these labels (a merge patch: the object's other labels and its spec stay as they are). */
  patchLabels(target: ObjectRef, labels: Record<string, string>): Promise<void>;
  /**
   * A JSON merge patch of the object's metadata, only if it is still at `resourceVersion`
   * (else it rejects with 409): how a Sandbox takes a pool pod, so two never take the same one.
   * Resolves to the object as stored (its new resourceVersion guards the next patch).
   */
  patchMetadataAt(
    target: ObjectRef,
    resourceVersion: string,
    metadata: Record<string, unknown>,
  ): Promise<KubernetesObject>;
  /**
   * Deletes the object; resolves when it is gone or was never there. With
   * `uid`, only that incarnation: a newer object of the same name stays. With
   * `resourceVersion`, only if it did not change since (else nothing happens).
   */
  delete(target: ObjectRef, opts?: { uid?: string; resourceVersion?: string }): Promise<void>;
  /** Replaces the status of `sb`; its resourceVersion guards against a stale read (409). */
  writeStatus(sb: Sandbox, status: SandboxStatus): Promise<Sandbox>;
  /** Replaces the status of `pool` (409 on a stale read). */
  writePoolStatus(pool: SandboxPool, status: SandboxPoolStatus): Promise<SandboxPool>;
}

/** The reads that do not go through a cache. Each resolves to undefined for a missing object. */
export interface SandboxReader {
  /** A Secret, read when the cache does not hold it yet (a token created a moment ago). */
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** A template ConfigMap (`spec.templateRef`): ConfigMaps are not cached, as most are not templates. */
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /**
   * The pods with this label selector, read from the API server: before a Sandbox takes a pool
   * pod, whether it took one already (the cache may not show a take of a moment ago).
   */
  pods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
}

/** The reference to `obj` (which must have apiVersion, kind, name and namespace). */
export function refOf(obj: KubernetesObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion ?? "",
    kind: obj.kind ?? "",
    namespace: obj.metadata?.namespace ?? "",
    name: obj.metadata?.name ?? "",
  };
}
