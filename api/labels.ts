import { createHash } from "node:crypto";

/** Every label and annotation SoulBox writes lives under this domain. */
export const DOMAIN = "soulbox.dev";

/** Label keys (one place; see STYLE.md). */
export const Label = {
  /** The Sandbox a child object belongs to (value: the sandbox name, hashed if long). */
  sandbox: `${DOMAIN}/sandbox`,
  /** The team (namespace-scoped API key owner) a sandbox belongs to; set by the gateway. */
  team: `${DOMAIN}/team`,
  /** What a child is: pod, token, network-policy, service, pool-pod (a pool's pod no Sandbox took yet). */
  component: `${DOMAIN}/component`,
  /**
   * The SandboxPool a pod was started for (value: the pool name). It stays when a Sandbox takes
   * the pod, so a pod always tells where it came from.
   */
  pool: `${DOMAIN}/pool`,
  /** On a volume's PersistentVolumeClaim (value: the volume id) and on its content sandbox. */
  volume: `${DOMAIN}/volume`,
  /** On a volume's claim: its E2B name as a label value ({@link labelValue}), for lookups by name. */
  volumeName: `${DOMAIN}/volume-name`,
  /** On a sandbox that serves a volume's content API (value: the volume id); not a user's sandbox. */
  volumeContent: `${DOMAIN}/volume-content`,
  /**
   * On a Snapshot the gateway made: why. `named`: E2B's `POST /sandboxes/{id}/snapshots` (listed,
   * deletable, a sandbox can start from it by name or id); `fork`: taken for `POST /sandboxes/{id}/fork`
   * (owned by the forks, never listed). Snapshots without it (a Filesystem pause) are not E2B's.
   */
  snapshotKind: `${DOMAIN}/snapshot-kind`,
  /** On a named Snapshot: its E2B name as a label value ({@link labelValue}), for lookups by name. */
  snapshotName: `${DOMAIN}/snapshot-name`,
  /** On a named Snapshot: its E2B tag (`default` when none was given). */
  snapshotTag: `${DOMAIN}/snapshot-tag`,
  /** Standard: who manages the object. */
  managedBy: "app.kubernetes.io/managed-by",
} as const;

/** Annotation keys. */
export const Annotation = {
  /** RFC 3339 time that replaces `spec.timeoutSeconds` as the expiry (the gateway extends TTLs with it). */
  expiresAt: `${DOMAIN}/expires-at`,
  /**
   * On a sandbox pod: a hash of the spec it was made from. The operator compares it with the
   * hash of the spec it would make now and says the result in the Sandbox's `PodUpToDate`
   * condition. It never replaces a running pod for it (that would end the sandbox's processes):
   * the next pod, once this one is deleted or ends, gets the current spec.
   */
  podSpecHash: `${DOMAIN}/pod-spec-hash`,
  /** On a Sandbox the gateway created with E2B's `autoResume`: the first request to it resumes it. */
  autoResume: `${DOMAIN}/auto-resume`,
  /** On a pool pod a Sandbox took: when it took it (RFC 3339). */
  claimedAt: `${DOMAIN}/claimed-at`,
  /**
   * On a pool pod a Sandbox took: whose identity its envd holds, as `<sandbox uid>/<restarts>`
   * (the pod's container restarts when envd was given it). Until it names the Sandbox, the
   * sandbox is not Ready: envd still accepts only the pool's token. A restarted container lost
   * what envd was given, so a different restart count means it is given again.
   */
  identity: `${DOMAIN}/identity`,
  /** On a volume's PersistentVolumeClaim: the volume's E2B name, exactly as given. */
  volumeName: `${DOMAIN}/volume-name`,
  /** On a named Snapshot: its E2B name, exactly as given. */
  snapshotName: `${DOMAIN}/snapshot-name`,
  /**
   * On a Snapshot the gateway made and on a Sandbox started from one: the E2B template id of the
   * sandbox it was taken of, so a restored sandbox reports the template it runs.
   */
  templateId: `${DOMAIN}/template-id`,
} as const;

/** The value of `app.kubernetes.io/managed-by` and the server-side apply field manager. */
export const MANAGER = "soulbox-operator";

const VALID_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * A label value derived from a name: kept as is when it is a valid value of at
 * most 63 characters, else cut and suffixed with a hash so distinct names stay
 * distinct. Pure.
 */
export function labelValue(name: string): string {
  if (name.length <= 63 && VALID_VALUE.test(name)) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 10);
  const head = name
    .replace(/[^-A-Za-z0-9_.]/g, "-")
    .slice(0, 52)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return head ? `${head}-${hash}` : hash;
}
