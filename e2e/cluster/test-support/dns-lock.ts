/**
 * /etc/resolv.conf is machine-wide and `cluster dns add` refuses a second cluster while another
 * cluster's DNS owns it. Test files run in parallel: the ones that use the test run's cluster DNS
 * (the gateway's e2e tests) hold this lock shared, the ones that make clusters of their own to
 * test the DNS itself hold it exclusively. util-linux `flock` holds it for us; the lock goes when
 * the holder's stdin closes, so a test process that dies releases it too.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";

const LOCK = "/tmp/soulbox-test-dns.lock";

/** Waits for the lock; resolves with the function that releases it. */
export async function holdDnsLock(mode: "shared" | "exclusive"): Promise<() => Promise<void>> {
  const holder = spawn(
    "flock",
    [mode === "shared" ? "--shared" : "--exclusive", LOCK, "-c", "echo held; exec cat >/dev/null"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("held")) resolve();
    });
    holder.on("error", reject);
    holder.on("exit", (code) => reject(new Error(`flock exited (${code}) before holding ${LOCK}`)));
  });
  return async () => {
    if (holder.exitCode !== null) return;
    const exited = once(holder, "exit");
    holder.stdin.end();
    await exited;
  };
}
