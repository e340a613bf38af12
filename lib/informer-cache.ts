import * as k8s from "@kubernetes/client-node";
import type { Logger } from "./log.js";

/** A watched, cached collection of one kind of object. */
export interface Cache<T extends k8s.KubernetesObject> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves once the first list arrived (the cache then holds everything that existed). */
  readonly synced: Promise<void>;
  readonly isSynced: boolean;
  stop(): Promise<void>;
}

/** Options for {@link startCache}. */
export interface CacheOptions<T extends k8s.KubernetesObject> {
  kubeConfig: k8s.KubeConfig;
  /** The watch path, e.g. `/api/v1/pods` or `/api/v1/namespaces/x/pods`. */
  path: string;
  list: () => Promise<k8s.KubernetesListObject<T>>;
  labelSelector?: string;
  /** Only objects matching this field selector, e.g. `metadata.name=x` (one named object). */
  fieldSelector?: string;
  /** Called for every add, update and delete (also for the objects of a relist). */
  onChange: (obj: T, verb: "add" | "update" | "delete") => void;
  log: Logger;
  /** Delay before restarting after a watch error. Default 1 s. */
  restartDelayMs?: number;
}

/**
 * An informer that keeps itself alive: client-node's informer stops on a watch
 * error (an API server restart, a dropped connection) and must be started
 * again, which relists, so no change is lost — only coalesced, which is what
 * level-triggered reconcilers want.
 */
export function startCache<T extends k8s.KubernetesObject>(opts: CacheOptions<T>): Cache<T> {
  // ListWatch is what makeInformer builds; made here because makeInformer takes no field selector.
  const informer = new k8s.ListWatch<T>(
    opts.path,
    new k8s.Watch(opts.kubeConfig),
    opts.list,
    false,
    opts.labelSelector,
    opts.fieldSelector,
  );
  let stopped = false;
  let isSynced = false;
  let retry: NodeJS.Timeout | undefined;
  informer.on("add", (o) => opts.onChange(o, "add"));
  informer.on("update", (o) => opts.onChange(o, "update"));
  informer.on("delete", (o) => opts.onChange(o, "delete"));
  const delay = opts.restartDelayMs ?? 1000;

  const start = (): Promise<void> =>
    informer.start().then(
      () => {
        isSynced = true;
      },
      (err: unknown) => {
        opts.log.warn("list failed; retrying", { path: opts.path, error: err });
        return new Promise<void>((resolve) => {
          retry = setTimeout(() => resolve(stopped ? undefined : start()), delay);
        });
      },
    );
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    opts.log.info("watch ended; relisting", { path: opts.path, error: err });
    clearTimeout(retry);
    retry = setTimeout(() => {
      if (!stopped) void start();
    }, delay);
  });
  const synced = start();
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
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
