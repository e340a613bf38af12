/**
 * The gateway's view of the sandboxes it created: an informer cache of team-labelled Sandboxes,
 * indexed by name (the E2B sandbox id), so the proxy resolves a pod per request without an API
 * call, and the REST API can wait for a sandbox to become Ready by watching instead of polling.
 */
import * as k8s from "@kubernetes/client-node";
import { SandboxResource, type Sandbox } from "../../../api/gen/crd-types.js";
import { customResourcePath, listCustomObjects } from "../../../lib/custom-resource.js";
import { startCache } from "../../../lib/informer-cache.js";
import { Label } from "../../../api/labels.js";
import type { Logger } from "../../../lib/log.js";

/** A cached, watched index of gateway-created Sandboxes. */
export interface SandboxIndex {
  /** The gateway-created (team-labelled) Sandbox named `id`, from the cache; undefined when unknown. */
  get(id: string): Sandbox | undefined;
  /** The cached Sandboxes of one team namespace. */
  list(namespace: string): readonly Sandbox[];
  /** Every cached Sandbox (all teams). */
  all(): readonly Sandbox[];
  /**
   * Calls `listener` after every change the cache sees, with the sandbox as it now is (undefined
   * once deleted). Returns the unsubscribe function. A throwing listener is ignored.
   */
  subscribe(listener: (id: string, s: Sandbox | undefined) => void): () => void;
  /**
   * Resolves with the sandbox once `pred(sandbox)` holds (checked at once and on every change;
   * `pred` gets undefined when the sandbox is gone); rejects with {@link WaitTimeoutError} after
   * `timeoutMs`.
   */
  waitFor(
    id: string,
    pred: (s: Sandbox | undefined) => boolean,
    timeoutMs: number,
  ): Promise<Sandbox | undefined>;
  readonly synced: Promise<void>;
  readonly isSynced: boolean;
  stop(): Promise<void>;
}

/** A {@link SandboxIndex.waitFor} that ran out of time; `last` is the sandbox as last seen. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
  constructor(
    message: string,
    readonly last: Sandbox | undefined,
  ) {
    super(message);
  }
}

/** Options for {@link startSandboxIndex}. */
export interface SandboxIndexOptions {
  kubeConfig: k8s.KubeConfig;
  log: Logger;
  /** Only this namespace (tests); every namespace when absent. */
  namespace?: string;
}

interface Waiter {
  pred: (s: Sandbox | undefined) => boolean;
  done: (s: Sandbox | undefined) => void;
  fail: (err: Error) => void;
}

/**
 * Starts the informer. Sandbox names are unique per namespace only; gateway ids are random and
 * checked for collisions at creation, so a name maps to one team's sandbox. Should two objects
 * share a name anyway (made by hand), the index keeps the latest one it saw.
 */
export function startSandboxIndex(opts: SandboxIndexOptions): SandboxIndex {
  const custom = opts.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const byName = new Map<string, Sandbox>();
  const waiters = new Map<string, Set<Waiter>>();
  const listeners = new Set<(id: string, s: Sandbox | undefined) => void>();

  const notify = (id: string) => {
    const set = waiters.get(id);
    if (!set) return;
    const current = byName.get(id);
    for (const w of [...set]) {
      let ok: boolean;
      try {
        ok = w.pred(current);
      } catch {
        ok = false;
      }
      if (ok) w.done(current);
    }
  };

  const cache = startCache<Sandbox>({
    kubeConfig: opts.kubeConfig,
    log: opts.log,
    path: customResourcePath(SandboxResource, opts.namespace),
    labelSelector: Label.team,
    list: () =>
      listCustomObjects<Sandbox>(custom, SandboxResource, {
        namespace: opts.namespace,
        labelSelector: Label.team,
      }),
    onChange: (obj, verb) => {
      const name = obj.metadata.name;
      if (!name) return;
      if (verb === "delete") {
        if (byName.get(name)?.metadata.uid === obj.metadata.uid) byName.delete(name);
      } else byName.set(name, obj);
      notify(name);
      for (const l of listeners) {
        try {
          l(name, byName.get(name));
        } catch {
          // a listener's failure is its own; the cache and the other listeners go on
        }
      }
    },
  });

  return {
    get: (id) => byName.get(id),
    list: (namespace) => [...byName.values()].filter((s) => s.metadata.namespace === namespace),
    all: () => [...byName.values()],
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    waitFor(id, pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const set = waiters.get(id) ?? new Set<Waiter>();
        waiters.set(id, set);
        const finish = () => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0) waiters.delete(id);
        };
        const waiter: Waiter = {
          pred,
          done: (s) => {
            finish();
            resolve(s);
          },
          fail: (err) => {
            finish();
            reject(err);
          },
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new WaitTimeoutError(`sandbox ${id}: not there within ${timeoutMs} ms`, byName.get(id)),
          );
        }, timeoutMs);
        set.add(waiter);
        // Checked after registering so a change between the check and the registration is not lost.
        notify(id);
      });
    },
    synced: cache.synced,
    get isSynced() {
      return cache.isSynced;
    },
    async stop() {
      await cache.stop();
      const stopped = new Error("the sandbox index was stopped");
      for (const set of [...waiters.values()]) for (const w of [...set]) w.fail(stopped);
    },
  };
}
