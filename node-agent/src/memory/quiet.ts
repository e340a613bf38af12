/**
 * The node agent's side of the executor's checkpoint quiet (envd/src/executor/checkpoint-quiet.ts):
 * signals to the sandbox container's init process (the executor) through containerd, which
 * delivers them to the task's init only. SIGUSR2: drop the link to the sidecar and stop
 * listening (CRIU cannot dump a socket whose peer is in another container); SIGHUP: listen again.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { socketAccepts } from "../../../lib/socket-accepts.js";
import { runCtr, type ContainerdClient } from "./checkpoint-image.js";

/** The executor did not close its socket in time: a checkpoint now would fail. */
export class QuietError extends Error {
  override readonly name = "QuietError";
}

/** The container id out of a pod status's `containerID` (`containerd://<id>`). */
export function containerdId(containerID: string): string {
  const m = /^containerd:\/\/([0-9a-f]{64})$/.exec(containerID);
  if (!m?.[1])
    throw new QuietError(`${JSON.stringify(containerID)} is not a containerd container id`);
  return m[1];
}

/** The host pid of the task `id`'s init process, from `ctr tasks ls`. */
export async function taskPid(client: ContainerdClient, id: string): Promise<number> {
  const out = await runCtr(client, ["tasks", "ls"]);
  const row = out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[0] === id);
  const pid = Number(row?.[1]);
  if (!row || !Number.isInteger(pid) || pid <= 0)
    throw new QuietError(`containerd runs no task ${id}`);
  return pid;
}

/**
 * Quiets the executor of container `id` and resolves once its socket (`socketPath` inside the
 * container, seen through /proc/<pid>/root) is gone; throws {@link QuietError} after `timeoutMs`.
 */
export async function enterQuiet(
  client: ContainerdClient,
  id: string,
  socketPath: string,
  timeoutMs = 10_000,
): Promise<void> {
  const pid = await taskPid(client, id);
  await runCtr(client, ["tasks", "kill", "--signal", "SIGUSR2", id]);
  const socket = join(`/proc/${pid}/root`, socketPath);
  await pollUntil(
    () => !existsSync(socket),
    timeoutMs,
    `the executor of ${id} still listens on ${socketPath} after ${timeoutMs} ms`,
  );
}

/**
 * Ends the quiet of container `id`'s executor (it listens again); a no-op when it is not quiet.
 * With `socketPath`, resolves only once the socket accepts a connection, so whoever uses the
 * sandbox next is not told "executor not reachable" in the moment before the executor listens;
 * throws {@link QuietError} after `timeoutMs`.
 */
export async function leaveQuiet(
  client: ContainerdClient,
  id: string,
  socketPath?: string,
  timeoutMs = 10_000,
): Promise<void> {
  const pid = socketPath === undefined ? 0 : await taskPid(client, id);
  await runCtr(client, ["tasks", "kill", "--signal", "SIGHUP", id]);
  if (socketPath === undefined) return;
  const socket = join(`/proc/${pid}/root`, socketPath);
  await pollUntil(
    () => socketAccepts(socket),
    timeoutMs,
    `the executor of ${id} does not listen on ${socketPath} ${timeoutMs} ms after its quiet ended`,
  );
}

/** Checks `done` every 20 ms; throws {@link QuietError} with `timeoutMessage` after `timeoutMs`. */
async function pollUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  timeoutMessage: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new QuietError(timeoutMessage);
    await new Promise((r) => setTimeout(r, 20));
  }
}
