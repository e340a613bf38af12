/**
 * What the operator, the gateway and the tests share about Snapshots: the labels and annotation
 * a Snapshot or a restored pod carries, the finalizer that removes stored objects, where a
 * Snapshot's parts go in the store, and which Snapshot a Sandbox's next pod is restored from.
 */
import type { Sandbox, Snapshot } from "./gen/crd-types.js";

/** On a pause Snapshot (taken by `spec.state: Paused`): the Sandbox it pauses. */
export const PAUSE_OF_LABEL = "soulbox.dev/pause-of";
/** On a sandbox pod restored from a Snapshot: the Snapshot's name. */
export const RESTORE_FROM_ANNOTATION = "soulbox.dev/restore-from";
/**
 * On a pause Snapshot: the hostname of the pod it was taken of. The resumed pod keeps it, also
 * when that pod was a pool's (whose hostname is the pool pod's name, not the Sandbox's).
 */
export const HOSTNAME_ANNOTATION = "soulbox.dev/hostname";

/**
 * A pod's hostname as the kubelet gives it: `spec.hostname`, else the pod's name cut to 63
 * characters with no trailing `-` or `.`. Pure.
 */
export function podHostname(pod: {
  metadata?: { name?: string };
  spec?: { hostname?: string };
}): string {
  return pod.spec?.hostname || (pod.metadata?.name ?? "").slice(0, 63).replace(/[-.]+$/, "");
}

/** Keeps a Snapshot until its stored objects are deleted. */
export const SNAPSHOT_FINALIZER = "soulbox.dev/snapshot-storage";

/** The object key of a Snapshot's filesystem layer (unique per Snapshot incarnation). */
export function filesystemKey(snap: Pick<Snapshot, "metadata">): string {
  const { namespace = "default", name = "", uid = "" } = snap.metadata;
  return `snapshots/${namespace}/${name}-${uid}/filesystem.tar.zst`;
}

/**
 * The Snapshot the Sandbox's next pod starts from: the one its last Filesystem pause stored
 * (`status.lastSnapshot`), else the one it was forked from (`spec.restoreFrom`), else none.
 */
export function restoreSource(sb: Pick<Sandbox, "spec" | "status">): string | undefined {
  return sb.status?.lastSnapshot ?? sb.spec.restoreFrom;
}

/** The object key of a Memory Snapshot's checkpoint archive (beside its filesystem key). */
export function memoryKey(snap: Pick<Snapshot, "metadata">): string {
  const { namespace = "default", name = "", uid = "" } = snap.metadata;
  return `snapshots/${namespace}/${name}-${uid}/memory.tar`;
}

/**
 * The checkpoint image a Memory Snapshot makes in its node's containerd: a local name no
 * registry serves (the kubelet finds it on the node or the pull fails), unique per incarnation.
 */
export function checkpointImageRef(snap: Pick<Snapshot, "metadata">): string {
  const { namespace = "default", name = "", uid = "" } = snap.metadata;
  return `${CHECKPOINT_IMAGE_PREFIX}${namespace}/${name}:${uid}`;
}

/** Where every checkpoint image's repository starts: the node agent removes no other image. */
export const CHECKPOINT_IMAGE_PREFIX = "localhost/soulbox/checkpoint/";

/** How a pod is made from a Snapshot: which part it restores, and for Memory where and from what. */
export type RestorePlan =
  | { kind: "filesystem"; key: string; sha256: string }
  | {
      kind: "memory";
      key: string;
      sha256: string;
      node: string;
      image: string;
      /** The node's address at checkpoint time (older Snapshots have none). */
      nodeAddress?: string;
    };

/**
 * How a pod starts from `snap`: a Ready Snapshot with a `memory` part (and the node and image it
 * recorded) brings the processes back; one with a `filesystem` part puts the files back; anything
 * else (missing, not Ready, no part) cannot be restored. Pure.
 */
export function restorePlan(snap: Snapshot | undefined): RestorePlan | undefined {
  if (snap?.status?.phase !== "Ready") return undefined;
  const parts = snap.status.parts ?? [];
  const memory = parts.find((p) => p.name === "memory");
  const { node, checkpointImage, nodeAddress } = snap.status;
  if (memory && node && checkpointImage)
    return {
      kind: "memory",
      key: memory.key,
      sha256: memory.sha256,
      node,
      image: checkpointImage,
      ...(nodeAddress ? { nodeAddress } : {}),
    };
  const fs = parts.find((p) => p.name === "filesystem");
  return fs ? { kind: "filesystem", key: fs.key, sha256: fs.sha256 } : undefined;
}
