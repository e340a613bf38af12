/**
 * A machine-wide readers-writer lock between test processes (jest workers run test files in
 * parallel). util-linux `flock` holds it for us; the lock goes when the holder's stdin closes, so
 * a test process that dies releases it too.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";

/** Waits for `path` locked in `mode`; resolves with the function that releases it. */
export async function holdFileLock(
  path: string,
  mode: "shared" | "exclusive",
): Promise<() => Promise<void>> {
  const holder = spawn(
    "flock",
    [mode === "shared" ? "--shared" : "--exclusive", path, "-c", "echo held; exec cat >/dev/null"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("held")) resolve();
    });
    holder.on("error", reject);
    holder.on("exit", (code) => reject(new Error(`flock exited (${code}) before holding ${path}`)));
  });
  return async () => {
    if (holder.exitCode !== null) return;
    const exited = once(holder, "exit");
    holder.stdin.end();
    await exited;
  };
}
