/**
 * The gateway's calls on `Snapshot` objects (one field manager), the lookups E2B's snapshot API
 * needs, and the wait until the operator has taken a snapshot. Snapshots are read from the API
 * server, not a cache: the gateway reads them only on snapshot calls and creates from snapshots.
 */
import * as k8s from "@kubernetes/client-node";
import { SnapshotResource, type Snapshot } from "../../../api/gen/crd-types.js";
import { findCondition } from "../../../api/conditions.js";
import { Label } from "../../../api/labels.js";
import { customObjectRef, listCustomObjects } from "../../../lib/custom-resource.js";
import { FIELD_MANAGER, statusOf } from "./kube.js";
import { SnapshotKind, matchesRef, type SnapshotRef } from "./snapshots-names.js";

/** The typed calls. */
export interface SnapshotCalls {
  create(namespace: string, body: Snapshot): Promise<Snapshot>;
  /** Undefined when there is no such Snapshot. */
  get(namespace: string, name: string): Promise<Snapshot | undefined>;
  list(namespace: string, labelSelector?: string): Promise<Snapshot[]>;
  /** Merge patch (metadata: owner references). */
  patch(namespace: string, name: string, patch: object): Promise<Snapshot>;
  /** False when it was not there. */
  delete(namespace: string, name: string): Promise<boolean>;
}

const MERGE = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** The calls against `kc`. */
export function createSnapshotCalls(kc: k8s.KubeConfig): SnapshotCalls {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = customObjectRef(SnapshotResource);
  const on404 = async <T>(p: Promise<T>, none: T): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (statusOf(err) === 404) return none;
      throw err;
    }
  };
  return {
    create: (namespace, body) =>
      custom.createNamespacedCustomObject({
        ...base,
        namespace,
        body,
        fieldManager: FIELD_MANAGER,
      }) as Promise<Snapshot>,
    get: (namespace, name) =>
      on404(
        custom.getNamespacedCustomObject({ ...base, namespace, name }) as Promise<
          Snapshot | undefined
        >,
        undefined,
      ),
    list: async (namespace, labelSelector) =>
      (await listCustomObjects<Snapshot>(custom, SnapshotResource, { namespace, labelSelector }))
        .items,
    patch: (namespace, name, patch) =>
      custom.patchNamespacedCustomObject(
        { ...base, namespace, name, body: patch, fieldManager: FIELD_MANAGER },
        MERGE,
      ) as Promise<Snapshot>,
    delete: (namespace, name) =>
      on404(
        custom
          .deleteNamespacedCustomObject({
            ...base,
            namespace,
            name,
            propagationPolicy: "Background",
          })
          .then(() => true),
        false,
      ),
  };
}

/** The named (E2B-visible) Snapshots of a team. */
export async function namedSnapshots(calls: SnapshotCalls, team: string): Promise<Snapshot[]> {
  return (await calls.list(team, `${Label.snapshotKind}=${SnapshotKind.named}`)).filter(
    (s) => !s.metadata.deletionTimestamp,
  );
}

/**
 * The Snapshot a sandbox create names (by id or `name[:tag]`): the newest Ready one, so a name
 * taken again starts from its latest snapshot. Undefined when none matches.
 */
export async function findSnapshotForCreate(
  calls: SnapshotCalls,
  team: string,
  ref: SnapshotRef,
): Promise<Snapshot | undefined> {
  const created = (s: Snapshot) => Date.parse(String(s.metadata.creationTimestamp ?? "")) || 0;
  return (await namedSnapshots(calls, team))
    .filter((s) => s.status?.phase === "Ready" && matchesRef(s, ref, false))
    .sort((a, b) => created(b) - created(a))[0];
}

/** How long a snapshot call waits for the operator (under the SDK's 60 s request timeout). */
export const SNAPSHOT_TIMEOUT_MS = 55_000;
const POLL_MS = 250;

/** The outcome of {@link waitSnapshot}. */
export type SnapshotOutcome =
  | { done: "ready"; snapshot: Snapshot }
  | { done: "failed"; message: string }
  | { done: "gone" }
  | { done: "timeout"; message: string };

/** Why a Snapshot failed, from its Ready condition. Pure. */
export function failureMessage(s: Snapshot): string {
  const c = findCondition(s.status?.conditions, "Ready");
  return c ? `${c.reason}: ${c.message}` : "no reason given";
}

/**
 * Polls the Snapshot until it is Ready or Failed or gone, for at most `timeoutMs`. A poll, not
 * a watch: the gateway keeps no Snapshot informer, and a snapshot takes seconds.
 */
export async function waitSnapshot(
  calls: SnapshotCalls,
  namespace: string,
  name: string,
  timeoutMs = SNAPSHOT_TIMEOUT_MS,
): Promise<SnapshotOutcome> {
  const deadline = Date.now() + timeoutMs;
  let last: Snapshot | undefined;
  for (;;) {
    last = await calls.get(namespace, name);
    if (!last || last.metadata.deletionTimestamp) return { done: "gone" };
    if (last.status?.phase === "Ready") return { done: "ready", snapshot: last };
    if (last.status?.phase === "Failed") return { done: "failed", message: failureMessage(last) };
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
  return {
    done: "timeout",
    message: `snapshot '${name}' was not ready within ${Math.round(timeoutMs / 1000)} s (phase ${last.status?.phase ?? "Pending"}${last.status?.conditions ? `, ${failureMessage(last)}` : ""})`,
  };
}
