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

/** The filesystem part of a Ready Snapshot; undefined when it has none (not Ready yet). */
export function filesystemPart(snap: Snapshot | undefined) {
  if (snap?.status?.phase !== "Ready") return undefined;
  return snap.status.parts?.find((p) => p.name === "filesystem");
}
