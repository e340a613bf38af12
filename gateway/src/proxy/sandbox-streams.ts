/**
 * The open exchanges (requests, streams, tunnels) of each sandbox, so that a sandbox that is deleted
 * (killed, or at the end of its timeout) has them cut at once, as E2B's proxy does: the SDK then
 * sees its stream break, asks envd's `/health`, gets the 502 "not found", and reports that the
 * sandbox "was killed or reached its end of life", rather than an exit status the kill produced
 * (`signal: killed`). Cutting on the gateway's cache event also beats the pod's own shutdown: the
 * cache sees the deletion before the kubelet stops a single process.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";

/** The registry of open exchanges by sandbox id. */
export interface SandboxStreams {
  /** Registers an open exchange with sandbox `id`; `cut` ends it abruptly. Returns the release. */
  track(id: string, cut: () => void): () => void;
  /** The cache's news about sandbox `id`: if it is gone or being deleted, every exchange is cut. */
  changed(id: string, s: Sandbox | undefined): void;
  /** How many exchanges are open (all sandboxes). */
  readonly size: number;
}

/** True when a sandbox, as the cache now has it, will not answer again. Pure. */
export function isGone(s: Sandbox | undefined): boolean {
  return !s || !!s.metadata.deletionTimestamp;
}

/** Creates an empty registry. */
export function createSandboxStreams(): SandboxStreams {
  interface Entry {
    cut: () => void;
    done: boolean;
  }
  const byId = new Map<string, Set<Entry>>();
  let size = 0;
  const finish = (id: string, set: Set<Entry>, e: Entry): boolean => {
    if (e.done) return false;
    e.done = true;
    size--;
    set.delete(e);
    if (set.size === 0 && byId.get(id) === set) byId.delete(id);
    return true;
  };
  return {
    track(id, cut) {
      let set = byId.get(id);
      if (!set) byId.set(id, (set = new Set()));
      const entry: Entry = { cut, done: false };
      set.add(entry);
      size++;
      const mine = set;
      return () => void finish(id, mine, entry);
    },
    changed(id, s) {
      if (!isGone(s)) return;
      const set = byId.get(id);
      if (!set) return;
      for (const e of [...set]) {
        if (!finish(id, set, e)) continue;
        try {
          e.cut();
        } catch {
          // the exchange was already ending
        }
      }
    },
    get size() {
      return size;
    },
  };
}
