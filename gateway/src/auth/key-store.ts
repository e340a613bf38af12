/**
 * The API keys the gateway accepts, kept in memory from a watch on the keys Secret: keys created
 * or revoked with `gateway keys` take effect as soon as the watch delivers the change (well under
 * a second on a healthy API server), without a read per request.
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../../../operator/src/log.js";
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
  const path = `/api/v1/namespaces/${opts.namespace}/secrets`;
  const informer = new k8s.ListWatch<k8s.V1Secret>(
    path,
    new k8s.Watch(opts.kubeConfig),
    () => core.listNamespacedSecret({ namespace: opts.namespace, fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  let current: NamedKey[] = [];
  let isSynced = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const delay = opts.restartDelayMs ?? 1000;

  const load = (secret: k8s.V1Secret | undefined) => {
    const { keys, invalid } = parseKeyEntries(secret?.data);
    for (const bad of invalid)
      opts.log.warn("ignoring an invalid API key entry", { key: bad.name, reason: bad.reason });
    current = keys;
  };
  const refresh = () =>
    load(informer.list(opts.namespace).find((s) => s.metadata?.name === opts.secretName));
  informer.on("add", refresh);
  informer.on("update", refresh);
  informer.on("delete", refresh);
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    opts.log.info("keys Secret watch ended; relisting", { error: err });
    clearTimeout(retry);
    retry = setTimeout(() => {
      if (!stopped) void start();
    }, delay);
  });

  const start = (): Promise<void> =>
    informer.start().then(
      () => {
        refresh();
        isSynced = true;
      },
      (err: unknown) => {
        opts.log.warn("reading the keys Secret failed; retrying", { error: err });
        return new Promise<void>((resolve) => {
          retry = setTimeout(() => resolve(stopped ? undefined : start()), delay);
        });
      },
    );
  const synced = start();

  return {
    check: (presented, now = new Date()) => checkKey(current, presented, now),
    keys: () => current,
    synced,
    get isSynced() {
      return isSynced;
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await informer.stop();
    },
  };
}
