/**
 * A real envd (dist/envd.mjs, built by jest's global setup) standing in for a sandbox pod: it binds
 * envd's real port 49983 on an address of its own in 127.0.0.0/8, the way each pod has its own IP,
 * so the front door forwards to `podIP:49983` exactly as in the cluster.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ENVD_PORT } from "../../sandboxes/sandbox-state.js";

/** The envd process of one fake pod. */
export interface PodEnvd {
  podIP: string;
  output(): string;
  stop(): Promise<void>;
}

const entry = fileURLToPath(new URL("../../../../dist/envd.mjs", import.meta.url));

/** A loopback address unlikely to be taken by anything else (127.0.0.1 never). */
export function randomLoopbackIp(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(2, 255)}`;
}

/** Starts envd on `{random loopback}:49983` with `--access-token token`; waits for `/health`. */
export async function startPodEnvd(token: string): Promise<PodEnvd> {
  for (let attempt = 0; ; attempt++) {
    const podIP = randomLoopbackIp();
    const child = spawn(
      process.execPath,
      [entry, "--host", podIP, "--port", String(ENVD_PORT), "--access-token", token],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    };
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) break;
      const ok = await fetch(`http://${podIP}:${ENVD_PORT}/health`).then(
        (r) => r.status === 204,
        () => false,
      );
      if (ok) return { podIP, output: () => out, stop };
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`envd did not become healthy:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // It exited during start-up: the address was taken (rare), or envd is broken (say so).
    if (attempt >= 2 || !out.includes("EADDRINUSE")) throw new Error(`envd exited:\n${out}`);
  }
}
