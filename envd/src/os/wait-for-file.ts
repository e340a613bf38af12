/**
 * Waiting for a file to appear, written by another process (the node agent writes a restored
 * sandbox's marker from outside the container, where inotify on the directory still sees it).
 */
import { access, mkdir } from "node:fs/promises";
import { watch } from "node:fs";
import { basename, dirname } from "node:path";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Resolves once `path` exists. Watches its directory (created when missing) and checks again on
 * every change and every `recheckMs`, since a change made from another mount namespace may reach
 * inotify late or, on some filesystems, not at all.
 */
export async function waitForFile(path: string, recheckMs = 500): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  if (await exists(path)) return;
  await new Promise<void>((resolve) => {
    const name = basename(path);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      watcher.close();
      clearInterval(timer);
      resolve();
    };
    const check = () => void exists(path).then((yes) => yes && finish());
    const watcher = watch(dir, (_event, file) => {
      if (file === null || file === name) check();
    });
    const timer = setInterval(check, recheckMs);
    check(); // it may have appeared between the first check and the watch
  });
}
