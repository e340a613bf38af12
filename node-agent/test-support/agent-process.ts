/**
 * A real node agent (dist/node-agent.mjs) on this host for a test, as the chart's DaemonSet runs
 * it (host network, root), against the local cluster's containerd and kubelet directories and a
 * store; stopped by pid.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../envd/test-support/envd-process.js";
import { stopChild } from "../../lib/stop-child.js";

const ENTRY = fileURLToPath(new URL("../../dist/node-agent.mjs", import.meta.url));

/** A running agent. */
export interface AgentUnderTest {
  port: number;
  token: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the agent with `SOULBOX_STORAGE_URL=storageUrl` and waits until it answers. */
export async function startNodeAgent(opts: {
  storageUrl: string;
  containerdState: string;
  kubeletRoot: string;
  cacheDir?: string;
  port?: number;
  token?: string;
  /** More environment (e.g. SOULBOX_STORAGE_CREDENTIALS). */
  env?: Record<string, string>;
  /** More flags (e.g. the Memory ones: --ctr, --kubelet-url, ...). */
  args?: string[];
}): Promise<AgentUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), "sbx-agent-"));
  const token = opts.token ?? randomBytes(24).toString("hex");
  await writeFile(join(dir, "token"), token, { mode: 0o600 });
  const port = opts.port ?? (await freePort());
  const args = [
    ENTRY,
    "--port",
    String(port),
    "--containerd-state",
    opts.containerdState,
    "--kubelet-root",
    opts.kubeletRoot,
    ...(opts.cacheDir ? ["--cache-dir", opts.cacheDir] : []),
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      SOULBOX_NODE_AGENT_TOKEN_FILE: join(dir, "token"),
      SOULBOX_STORAGE_URL: opts.storageUrl,
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the node agent exited during start-up:\n${out}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`the node agent did not answer within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    token,
    output: () => out,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
