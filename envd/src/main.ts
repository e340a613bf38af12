/**
 * envd: the in-sandbox daemon, wire-compatible with E2B's envd.
 *
 * Main flow: parse the command line → start (or find) the executor, which
 * does the OS work behind a unix socket → serve the sidecar front door
 * (auth, signed URLs, audit, RPC forwarding) on one TCP port → on SIGINT or
 * SIGTERM stop both.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { USAGE, parseConfig } from "./config.js";
import { createAuditLog } from "./sidecar/audit.js";
import { createExecutorLink } from "./sidecar/executor-link.js";
import { listenSidecar } from "./sidecar/server.js";
import { ENVD_NODE_FLAGS, ENVD_VERSION } from "../../api/envd.js";
import { createLogger } from "../../lib/log.js";

const log = createLogger("info", { component: "envd" });

let config;
try {
  config = parseConfig(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`envd: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(2);
}
if (config === "help") {
  console.log(USAGE);
  process.exit(0);
}

// One broken stream must not take every other sandbox client down with it.
process.on("uncaughtException", (err) => {
  log.error("uncaught exception", { error: String(err), stack: err.stack });
});

let executor: ChildProcess | undefined;
let socketPath = config.executorSocket;
let socketDir: string | undefined;
if (!socketPath) {
  socketDir = await mkdtemp(join(tmpdir(), "envd-"));
  socketPath = join(socketDir, "executor.sock");
  executor = await spawnExecutor(socketPath, config.defaultUser);
}

const audit = createAuditLog(config.auditLog);
const link = createExecutorLink(socketPath);
const server = await listenSidecar({
  port: config.port,
  host: config.host,
  tokens: { token: config.accessToken },
  executor: link,
  audit,
}).catch((err: unknown) => {
  console.error(
    `envd: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`,
  );
  executor?.kill("SIGTERM");
  process.exit(1);
});
log.info("envd listening", {
  port: server.port,
  version: ENVD_VERSION,
  executorSocket: socketPath,
  secure: !!config.accessToken,
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  log.info("envd stopping");
  await server.close().catch(() => undefined);
  link.close();
  if (executor && executor.exitCode === null) {
    const exited = new Promise((r) => executor?.once("exit", r));
    executor.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (executor.exitCode === null) executor.kill("SIGKILL");
  }
  if (socketDir) await rm(socketDir, { recursive: true, force: true });
  await audit.close();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
executor?.on("exit", (code, signal) => {
  if (stopping) return;
  console.error(`envd: the executor exited unexpectedly (${signal ?? `code ${code}`}); stopping`);
  void stop(1);
});

function spawnExecutor(socket: string, defaultUser: string | undefined): Promise<ChildProcess> {
  const entry = fileURLToPath(new URL("./executor.mjs", import.meta.url));
  const args = ["--socket", socket, ...(defaultUser ? ["--default-user", defaultUser] : [])];
  const child = fork(entry, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [...process.execArgv, ...ENVD_NODE_FLAGS],
  });
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve(child));
    child.once("exit", (code) =>
      reject(new Error(`executor exited during start-up with code ${code}`)),
    );
  }).catch((err: unknown) => {
    console.error(`envd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }) as Promise<ChildProcess>;
}
