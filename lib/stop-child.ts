import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

/**
 * Stops a child this process started, by pid: SIGTERM, then SIGKILL when it has not exited
 * after `graceMs`. Resolves once it has exited; at once when it already had.
 */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
