/**
 * Addressing a custom resource through client-node: the generated `*Resource` constants of
 * api/gen carry group, version and plural; these turn them into the arguments and paths the
 * CustomObjectsApi and watches take, so no component spells a path by hand.
 */
import type * as k8s from "@kubernetes/client-node";

/** The part of a generated `*Resource` constant that addresses its objects. */
export interface CustomResourceType {
  group: string;
  version: string;
  plural: string;
}

/** `{ group, version, plural }` as CustomObjectsApi calls take them (nothing else of `type`). */
export function customObjectRef(type: CustomResourceType): CustomResourceType {
  return { group: type.group, version: type.version, plural: type.plural };
}

/** The collection's path, for a watch: in `namespace`, or across all namespaces without one. */
export function customResourcePath(type: CustomResourceType, namespace?: string): string {
  const base = `/apis/${type.group}/${type.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${type.plural}` : `${base}/${type.plural}`;
}

/** Lists the objects of `type`, in `namespace` or across all namespaces without one. */
export function listCustomObjects<T extends k8s.KubernetesObject>(
  custom: k8s.CustomObjectsApi,
  type: CustomResourceType,
  opts: { namespace?: string; labelSelector?: string } = {},
): Promise<k8s.KubernetesListObject<T>> {
  const ref = { ...customObjectRef(type), labelSelector: opts.labelSelector };
  const listed = opts.namespace
    ? custom.listNamespacedCustomObject({ ...ref, namespace: opts.namespace })
    : custom.listClusterCustomObject(ref);
  return listed as Promise<k8s.KubernetesListObject<T>>;
}
