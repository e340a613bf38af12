/**
 * An E2B volume is a PersistentVolumeClaim in the team's namespace, named from the volume id
 * (`volume-<uuid>`), labelled with the team, the id and its name (as a label value, for lookups),
 * with the exact E2B name in an annotation. Not owned by anything: it outlives every sandbox that
 * mounts it. This module is the pure part: the request checks with E2B's messages, the claim, and
 * the claim as E2B's JSON.
 */
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { Annotation, Label, labelValue } from "../../../api/labels.js";
import { badRequest } from "../api/errors.js";
import { ApiError } from "../api/errors.js";
import type { VolumeSettings } from "./settings.js";

/** E2B's volume names: letters, digits, '_' and '-'. */
const VOLUME_NAME = /^[a-zA-Z0-9_-]+$/;
/** E2B's volume ids are UUIDs. */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Longer names could not be told apart by their label value alone; the annotation keeps them. */
const MAX_NAME = 253;

/** E2B's `Volume`. */
export interface E2bVolume {
  volumeID: string;
  name: string;
}

/** E2B's `VolumeAndToken`: the token authorises the volume content API for this volume. */
export interface E2bVolumeAndToken extends E2bVolume {
  token: string;
}

/** A volume as the gateway knows it, read from its claim. */
export interface VolumeRecord {
  id: string;
  name: string;
  team: string;
  claimName: string;
  /** The claim's uid (content sandboxes are owned by it). */
  uid: string;
  /** The claim's phase: Pending (WaitForFirstConsumer: until a pod uses it), Bound or Lost. */
  phase: string;
  /** Being deleted: it waits for the pods that still mount it. */
  deleting: boolean;
}

/** The claim of volume `id`. */
export const claimNameOf = (id: string) => `volume-${id.toLowerCase()}`;

/** Checks `POST /volumes`'s body; E2B's 400 message for a bad name. */
export function parseNewVolume(body: unknown): string {
  const name = (body as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || name.length > MAX_NAME || !VOLUME_NAME.test(name))
    throw badRequest("Invalid volume name");
  return name;
}

/** Checks a volume id from a path; E2B's 400 for one that is not a UUID. */
export function checkVolumeId(id: string): string {
  if (!UUID.test(id)) throw badRequest("Invalid volume ID");
  return id.toLowerCase();
}

/** E2B's 404 for an unknown volume (another team's looks the same). */
export const volumeNotFound = () => new ApiError(404, "Volume not found");

/** E2B's 400 when the team already has a volume of that name. */
export const volumeExists = (name: string) =>
  badRequest(`Volume with name '${name}' already exists`);

/** The claim of a new volume. Pure. */
export function desiredClaim(
  id: string,
  name: string,
  team: string,
  settings: Pick<VolumeSettings, "storageClassName" | "accessMode" | "size">,
): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: claimNameOf(id),
      namespace: team,
      labels: {
        [Label.team]: team,
        [Label.volume]: id,
        [Label.volumeName]: labelValue(name),
        [Label.managedBy]: "soulbox-gateway",
      },
      annotations: { [Annotation.volumeName]: name },
    },
    spec: {
      accessModes: [settings.accessMode],
      resources: { requests: { storage: settings.size } },
      // Absent, not "": an empty class name means "no class" to Kubernetes, not the default.
      ...(settings.storageClassName ? { storageClassName: settings.storageClassName } : {}),
    },
  };
}

/** The volume a claim holds, or undefined when the claim is not a volume. Pure. */
export function volumeOf(claim: V1PersistentVolumeClaim): VolumeRecord | undefined {
  const id = claim.metadata?.labels?.[Label.volume];
  const name = claim.metadata?.annotations?.[Annotation.volumeName];
  const team = claim.metadata?.namespace;
  if (!id || name === undefined || !team) return undefined;
  return {
    id,
    name,
    team,
    claimName: claim.metadata?.name ?? claimNameOf(id),
    uid: claim.metadata?.uid ?? "",
    phase: claim.status?.phase ?? "Pending",
    deleting: !!claim.metadata?.deletionTimestamp,
  };
}

/** E2B's `Volume` of a record. */
export const toE2bVolume = (v: VolumeRecord): E2bVolume => ({ volumeID: v.id, name: v.name });
