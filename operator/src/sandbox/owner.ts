/**
 * Every child of a Sandbox names it as its controlling owner, so the garbage
 * collector removes the children with the Sandbox (no finalizer needed) and
 * the informers can map a child event back to its Sandbox.
 */
import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Label, MANAGER, labelValue } from "../../../api/labels.js";

/** What a child is, as its `soulbox.dev/component` label says. */
export type ChildComponent = "pod" | "token" | "network-policy" | "service" | "pool-pod";

/** An object that owns children: a Sandbox or a SandboxPool, as the API server returned it. */
export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string };
}

/**
 * The controller owner reference to `owner`. `blockOwnerDeletion` makes a
 * foreground delete of the owner wait for its children. Throws when the owner
 * has no name or uid (it was never read from the API server).
 */
export function controllerReference(owner: Owner): V1OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid)
    throw new Error(
      `a ${owner.kind} needs metadata.name and metadata.uid to own children (got name ${JSON.stringify(name)}, uid ${JSON.stringify(uid)}): use the object as the API server returned it`,
    );
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The controller owner reference to `sb` (see {@link controllerReference}). */
export function ownerReference(sb: Sandbox): V1OwnerReference {
  return controllerReference(sb);
}

/**
 * The metadata a child of `owner` starts from: its name, the owner's
 * namespace, `labels` plus the managed-by label, and the owner reference.
 * Throws when the owner has no namespace, name or uid.
 */
export function ownedMetadata(
  owner: Owner,
  name: string,
  labels: Record<string, string>,
): V1ObjectMeta {
  const reference = controllerReference(owner);
  const namespace = owner.metadata.namespace;
  if (!namespace)
    throw new Error(
      `${owner.kind} "${reference.name}" has no metadata.namespace: children go in its namespace`,
    );
  return {
    name,
    namespace,
    labels: { ...labels, [Label.managedBy]: MANAGER },
    ownerReferences: [reference],
  };
}

/**
 * The metadata every child of `sb` starts from: its name, the Sandbox's
 * namespace, the sandbox / component / managed-by labels and the owner
 * reference. Throws when the Sandbox has no namespace, name or uid.
 */
export function childMetadata(sb: Sandbox, name: string, component: ChildComponent): V1ObjectMeta {
  return ownedMetadata(sb, name, {
    [Label.sandbox]: labelValue(sb.metadata.name ?? ""),
    [Label.component]: component,
  });
}
