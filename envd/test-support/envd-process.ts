import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ENVD_NODE_FLAGS } from "../../api/envd.js";
import { stopChild } from "../../lib/stop-child.js";

/** A real envd (sidecar + executor) started for a test, stopped by pid. */
export interface EnvdUnderTest {
  port: number;
  url: string;
  pid: number;
  /** Everything envd printed (logs and audit lines). */
  output(): string;
  stop(): Promise<void>;
}

const entry = fileURLToPath(new URL("../../dist/envd.mjs", import.meta.url));

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const address = srv.address();
  srv.close();
  if (typeof address !== "object" || !address) throw new Error("no port");
  return address.port;
}

/**
 * Starts `dist/envd.mjs` (built by jest's global setup) on a free port of
 * 127.0.0.1, or at `at`, and waits until `/health` answers.
 */
export async function startEnvd(
  args: string[] = [],
  at?: { host: string; port: number },
): Promise<EnvdUnderTest> {
  const host = at?.host ?? "127.0.0.1";
  const port = at?.port ?? (await freePort());
  const child: ChildProcess = spawn(
    process.execPath,
    // The sidecar's Node.js flags as its image gives them (the executor gets them from envd).
    [...ENVD_NODE_FLAGS, entry, "--port", String(port), "--host", host, ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`envd exited during start-up:\n${out}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 204,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`envd did not become healthy:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url,
    pid: child.pid ?? 0,
    output: () => out,
    stop: () => stopChild(child),
  };
}
