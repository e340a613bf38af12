/**
 * Every child of a Sandbox names it as its controlling owner, so the garbage
 * collector removes the children with the Sandbox (no finalizer needed) and
 * the informers can map a child event back to its Sandbox.
 */
import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import { SandboxResource, type Sandbox } from "../../../api/gen/crd-types.js";
import { Label, MANAGER, labelValue } from "../../../api/labels.js";

/** What a child is, as its `soulbox.dev/component` label says. */
export type ChildComponent = "pod" | "token" | "network-policy" | "service";

/**
 * The controller owner reference to `sb`. `blockOwnerDeletion` makes a
 * foreground delete of the Sandbox wait for its children. Throws when the
 * Sandbox has no name or uid (it was never read from the API server).
 */
export function ownerReference(sb: Sandbox): V1OwnerReference {
  const { name, uid } = sb.metadata;
  if (!name || !uid)
    throw new Error(
      `a Sandbox needs metadata.name and metadata.uid to own children (got name ${JSON.stringify(name)}, uid ${JSON.stringify(uid)}): use the object as the API server returned it`,
    );
  return {
    apiVersion: SandboxResource.apiVersion,
    kind: SandboxResource.kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The metadata every child of `sb` starts from: its name, the Sandbox's
 * namespace, the sandbox / component / managed-by labels and the owner
 * reference. Throws when the Sandbox has no namespace, name or uid.
 */
export function childMetadata(sb: Sandbox, name: string, component: ChildComponent): V1ObjectMeta {
  const owner = ownerReference(sb);
  const namespace = sb.metadata.namespace;
  if (!namespace)
    throw new Error(
      `Sandbox "${owner.name}" has no metadata.namespace: children go in its namespace`,
    );
  return {
    name,
    namespace,
    labels: {
      [Label.sandbox]: labelValue(owner.name),
      [Label.component]: component,
      [Label.managedBy]: MANAGER,
    },
    ownerReferences: [owner],
  };
}
