import { EnvdError } from "../shared/errors.js";
import type { ManagedProcess } from "./managed-process.js";

/** Identifies a process by pid or by the tag it was started with. */
export type ProcessRef = { pid: number } | { tag: string };

/**
 * The processes the executor started. Exited processes stay findable for
 * `retentionMs` so a late `Connect` still learns the exit status.
 */
export interface ProcessTable {
  /** Throws `already_exists` when a running process holds this tag. */
  assertTagFree(tag: string): void;
  add(proc: ManagedProcess): void;
  get(ref: ProcessRef): ManagedProcess;
  running(): ManagedProcess[];
  all(): ManagedProcess[];
  /** Sends SIGKILL to every running process (shutdown). */
  killAll(): void;
}

/** Creates a {@link ProcessTable}. */
export function createProcessTable(retentionMs = 10 * 60_000): ProcessTable {
  const byPid = new Map<number, ManagedProcess>();
  return {
    assertTagFree(tag) {
      for (const p of byPid.values()) {
        if (p.tag === tag && !p.exit) {
          throw new EnvdError("already_exists", `a running process already has the tag '${tag}'`);
        }
      }
    },
    add(proc) {
      byPid.set(proc.pid, proc);
      void proc.done.then(() => {
        setTimeout(() => {
          if (byPid.get(proc.pid) === proc) byPid.delete(proc.pid);
        }, retentionMs).unref();
      });
    },
    get(ref) {
      if ("pid" in ref) {
        const p = byPid.get(ref.pid);
        if (!p) throw new EnvdError("not_found", `process with pid ${ref.pid} not found`);
        return p;
      }
      let found: ManagedProcess | undefined;
      for (const p of byPid.values()) {
        // Prefer the running process with this tag over an exited one.
        if (p.tag === ref.tag && (!found || (found.exit && !p.exit))) found = p;
      }
      if (!found) throw new EnvdError("not_found", `process with tag '${ref.tag}' not found`);
      return found;
    },
    running() {
      return [...byPid.values()].filter((p) => !p.exit);
    },
    all() {
      return [...byPid.values()];
    },
    killAll() {
      for (const p of byPid.values()) if (!p.exit) p.signal("SIGKILL");
    },
  };
}
