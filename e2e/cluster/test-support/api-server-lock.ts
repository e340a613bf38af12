/**
 * Some tests restart the run's shared kube-apiserver (to prove etcd, informers and the operator
 * survive it) while other test files use it in parallel; a one-shot call of theirs that landed in
 * the restart's few seconds failed with "connection refused". Every test that uses the shared API
 * server holds this lock shared (a test namespace holds it for its life); a restart holds it
 * exclusively, so it waits for the other files' tests in flight and they wait for it.
 */
import { holdFileLock } from "./file-lock.js";

const LOCK = "/tmp/soulbox-test-apiserver.lock";

/** This process's one shared hold, counted: flock would make a second hold of ours a stranger. */
let holds = 0;
let release: (() => Promise<void>) | undefined;
let pending: Promise<void> | undefined;

/** Holds the shared API server in use until the returned function is called (once). */
export async function useSharedApiServer(): Promise<() => Promise<void>> {
  holds++;
  if (holds === 1) pending = holdFileLock(LOCK, "shared").then((r) => void (release = r));
  await pending;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    holds--;
    if (holds === 0) await dropSharedHold();
  };
}

async function dropSharedHold(): Promise<void> {
  await pending;
  const r = release;
  release = undefined;
  await r?.();
}

/**
 * Runs `fn` (a restart of the shared kube-apiserver) once no other test file is using the API
 * server, and keeps them out until it returns. This process's own shared hold is let go for it
 * and taken back.
 */
export async function withApiServerExclusive(fn: () => unknown): Promise<void> {
  if (holds > 0) await dropSharedHold();
  const exclusive = await holdFileLock(LOCK, "exclusive");
  try {
    await fn();
  } finally {
    await exclusive();
    if (holds > 0) pending = holdFileLock(LOCK, "shared").then((r) => void (release = r));
    await pending;
  }
}
