/**
 * A real envd (dist/envd.mjs, built by jest's global setup) standing in for a sandbox pod: it binds
 * envd's real port 49983 on an address of its own in 127.0.0.0/8, the way each pod has its own IP,
 * so the front door forwards to `podIP:49983` exactly as in the cluster.
 */
import { randomInt } from "node:crypto";
import { startEnvd } from "../../envd/test-support/envd-process.js";
import { ENVD_PORT } from "../src/sandboxes/sandbox-state.js";

/** The envd process of one fake pod. */
export interface PodEnvd {
  podIP: string;
  output(): string;
  stop(): Promise<void>;
}

/** A loopback address unlikely to be taken by anything else (127.0.0.1 never). */
export function randomLoopbackIp(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(2, 255)}`;
}

/** Starts envd on `{random loopback}:49983` with `--access-token token`; waits for `/health`. */
export async function startPodEnvd(token: string): Promise<PodEnvd> {
  for (let attempt = 0; ; attempt++) {
    const podIP = randomLoopbackIp();
    try {
      const envd = await startEnvd(["--access-token", token], { host: podIP, port: ENVD_PORT });
      return { podIP, output: envd.output, stop: envd.stop };
    } catch (err) {
      // The address was taken (rare): another one. Anything else means envd is broken.
      if (attempt >= 2 || !String(err).includes("EADDRINUSE")) throw err;
    }
  }
}
