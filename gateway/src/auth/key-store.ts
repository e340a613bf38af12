/**
 * The API keys the gateway accepts, kept in memory from a watch on the keys Secret: keys created
 * or revoked with `gateway keys` take effect as soon as the watch delivers the change (well under
 * a second on a healthy API server), without a read per request.
 */
import * as k8s from "@kubernetes/client-node";
import { startCache, type Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import { checkKey, parseKeyEntries, type KeyCheck, type NamedKey } from "./api-keys.js";

/** The watched key set. */
export interface KeyStore {
  /** Checks a presented key against the current entries. */
  check(presented: string | undefined, now?: Date): KeyCheck;
  /** The current entries (hashes only). */
  keys(): readonly NamedKey[];
  /** Resolves once the Secret was read the first time (present or not). */
  readonly synced: Promise<void>;
  readonly isSynced: boolean;
  stop(): Promise<void>;
}

/** Options for {@link startKeyStore}. */
export interface KeyStoreOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  secretName: string;
  log: Logger;
  /** Delay before a restart after a watch error. Default 1 s. */
  restartDelayMs?: number;
}

/** Starts watching the keys Secret. */
export function startKeyStore(opts: KeyStoreOptions): KeyStore {
  const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const fieldSelector = `metadata.name=${opts.secretName}`;
  let current: NamedKey[] = [];
  const load = (secret: k8s.V1Secret | undefined) => {
    const { keys, invalid } = parseKeyEntries(secret?.data);
    for (const bad of invalid)
      opts.log.warn("ignoring an invalid API key entry", { key: bad.name, reason: bad.reason });
    current = keys;
  };
  // One named object: its RBAC grants list/watch by resourceNames, which needs the field selector.
  const cache: Cache<k8s.V1Secret> = startCache<k8s.V1Secret>({
    kubeConfig: opts.kubeConfig,
    log: opts.log,
    path: `/api/v1/namespaces/${opts.namespace}/secrets`,
    fieldSelector,
    list: () => core.listNamespacedSecret({ namespace: opts.namespace, fieldSelector }),
    onChange: (secret, verb) => load(verb === "delete" ? undefined : secret),
    restartDelayMs: opts.restartDelayMs,
  });
  // A missing Secret yields no event: the first list decides then.
  const synced = cache.synced.then(() => load(cache.get(opts.secretName, opts.namespace)));

  return {
    check: (presented, now = new Date()) => checkKey(current, presented, now),
    keys: () => current,
    synced,
    get isSynced() {
      return cache.isSynced;
    },
    stop: () => cache.stop(),
  };
}
