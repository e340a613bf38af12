/**
 * What every handler of the REST API works with: the Kubernetes calls, the sandbox cache, the
 * settings and the log. Also the lookups every handler shares: the caller's sandbox by id (another
 * team's is unknown) and a sandbox's envd token.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import type { Logger } from "../../../lib/log.js";
import { tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import type { GatewayConfig } from "../config.js";
import type { SandboxIndex } from "../sandboxes/sandbox-index.js";
import { ApiError, sandboxNotFound } from "./errors.js";
import type { KubeCalls } from "./kube.js";
import type { SnapshotCalls } from "./snapshots-store.js";
import type { VolumeService } from "../volumes/volume-service.js";
import type { MetricsHistory } from "./metrics-history.js";

/** The settings the API reads, as the gateway's flags give them. */
export type ApiConfig = Pick<
  GatewayConfig,
  | "domain"
  | "namespace"
  | "apiKeysSecret"
  | "defaultTimeoutSeconds"
  | "maxTimeoutSeconds"
  | "createTimeoutSeconds"
  | "rateLimit"
  | "rateBurst"
  | "maxBodyBytes"
  | "auditLog"
> &
  Partial<Pick<GatewayConfig, "volumes" | "memoryPause">>;

/** The shared dependencies of the handlers. */
export interface ApiContext {
  kube: KubeCalls;
  index: SandboxIndex;
  config: ApiConfig;
  log: Logger;
  /** E2B volumes (PersistentVolumeClaims of the team). */
  volumes: VolumeService;
  /** Snapshot objects (E2B snapshots, forks, creates from a snapshot). */
  snapshots: SnapshotCalls;
  /** The envd access token of a sandbox (cached per sandbox uid). */
  token(s: Sandbox): Promise<string>;
  /** Sampled metrics of every sandbox; without it a metrics call answers the current sample. */
  metricsHistory?: MetricsHistory;
}

/**
 * The sandbox `id` of team `team`, from the cache. Unknown ids, other teams' sandboxes and
 * sandboxes being deleted are all the same 404.
 */
export function findSandbox(ctx: ApiContext, team: string, id: string): Sandbox {
  const s = ctx.index.get(id);
  if (!s || s.metadata.namespace !== team || s.metadata.deletionTimestamp)
    throw sandboxNotFound(id);
  return s;
}

/** A token reader with a small cache keyed by sandbox uid (a token never changes for a uid). */
export function createTokenReader(kube: KubeCalls): (s: Sandbox) => Promise<string> {
  const cache = new Map<string, string>();
  return async (s) => {
    const uid = s.metadata.uid ?? "";
    const hit = cache.get(uid);
    if (hit !== undefined) return hit;
    const ns = s.metadata.namespace ?? "";
    const id = s.metadata.name ?? "";
    // The operator's own naming and encoding of the token Secret.
    const token = tokenFromSecret(await kube.readSecret(ns, tokenSecretName(id)));
    if (!token)
      throw new ApiError(
        503,
        `sandbox '${id}' has no envd access token yet: try again in a moment`,
      );
    if (cache.size > 10_000) cache.clear(); // bounded; a miss costs one read
    if (uid) cache.set(uid, token);
    return token;
  };
}
