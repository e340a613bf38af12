import { readdir, readFile } from "node:fs/promises";

/** Parent pid of every process, read from /proc. */
async function parentMap(): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (!stat) continue;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    map.set(pid, ppid);
  }
  return map;
}

/** All descendants of `root` (not `root` itself). Pure over a parent map. */
export function descendantsOf(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Freezes and thaws every process below the executor with SIGSTOP/SIGCONT —
 * the portable form of a cgroup freezer that works on any runtime (Kata
 * included) without extra privileges. Freezing repeats until no new process
 * appears, so a process forking during the freeze is caught too.
 */
export interface Freezer {
  readonly frozen: boolean;
  freeze(): Promise<number>;
  thaw(): Promise<number>;
}

/** Creates a {@link Freezer} for the descendants of `root` (default: this process). */
export function createFreezer(root = process.pid): Freezer {
  let frozen = false;
  const signalAll = async (signal: NodeJS.Signals, repeat: boolean) => {
    const done = new Set<number>();
    for (let round = 0; round < (repeat ? 10 : 1); round++) {
      const fresh = descendantsOf(root, await parentMap()).filter((p) => !done.has(p));
      if (fresh.length === 0) break;
      for (const pid of fresh) {
        try {
          process.kill(pid, signal);
          done.add(pid);
        } catch {
          // exited meanwhile
        }
      }
    }
    return done.size;
  };
  return {
    get frozen() {
      return frozen;
    },
    async freeze() {
      frozen = true;
      return signalAll("SIGSTOP", true);
    },
    async thaw() {
      frozen = false;
      return signalAll("SIGCONT", false);
    },
  };
}
