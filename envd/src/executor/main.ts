/**
 * The executor: the sandbox container's PID 1 in a pod, a child process of
 * `npm run envd` locally. It does the operating-system work (processes, PTYs,
 * files, watches, metrics) and serves it to the envd sidecar over a unix socket.
 *
 * Usage: executor --socket <path> [--default-user <name>] [--inherit-env] [--wait-for <file>] [-- <start command> [args...]]
 * `--inherit-env` (the pod layout): the container's environment becomes the sandbox-wide variables.
 * `--wait-for` (a sandbox restored from a Snapshot): serve nothing and start nothing until the
 * file exists, i.e. until the node agent has put the snapshot's files back.
 */
import { parseArgs } from "node:util";
import { createExecutorContext } from "./context.js";
import { listenExecutor } from "./server.js";
import { createCheckpointQuiet } from "./checkpoint-quiet.js";
import { defaultUserName } from "../os/default-user.js";
import { containerEnv } from "../os/process-env.js";
import { runStartCommand } from "./start-command.js";
import { createLogger } from "../../../lib/log.js";
import { waitForFile } from "../os/wait-for-file.js";

const { values, positionals } = parseArgs({
  options: {
    socket: { type: "string" },
    "default-user": { type: "string" },
    "inherit-env": { type: "boolean" },
    "wait-for": { type: "string" },
  },
  allowPositionals: true,
});
if (!values.socket) {
  console.error("executor: --socket <path> is required");
  process.exit(2);
}
// The executor is the sandbox's PID 1: one bad request must never end it.
const log = createLogger("info", { component: "executor" });
process.on("uncaughtException", (err) => {
  log.error("uncaught exception in executor", { error: String(err), stack: err.stack });
});

const ctx = createExecutorContext({
  user: values["default-user"] ?? (await defaultUserName()),
  workdir: undefined,
  envVars: values["inherit-env"] ? containerEnv(process.env) : {},
});
if (values["wait-for"]) {
  log.info("waiting for the restore", { marker: values["wait-for"] });
  await waitForFile(values["wait-for"]);
  log.info("restored; starting");
}
const socket = values.socket;
// Without its socket the executor serves nothing: say why and exit non-zero (the kubelet restarts
// the container), instead of the silent exit 0 of a rejected top-level await.
const server = await listenExecutor(ctx, socket).catch((err: unknown) => {
  log.error("cannot listen on the executor socket", { socket, error: String(err) });
  process.exit(1);
});
// Memory snapshots: the node agent quiets the link to the sidecar around a CRIU checkpoint
// (SIGUSR2 quiet, SIGHUP listen again; see checkpoint-quiet.ts).
const quiet = createCheckpointQuiet(server, socket, log);
await runStartCommand(ctx, positionals, log).catch((err: unknown) => {
  log.error("start command could not start", { error: String(err) });
});
process.send?.({ ready: true });
log.info("executor listening", { socket, defaultUser: ctx.defaults.user });

const stop = () => {
  ctx.processes.killAll();
  ctx.watchers.closeAll();
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("SIGUSR2", () => void quiet.enter());
process.on("SIGHUP", () => void quiet.leave());
// When the sidecar that started us dies, do not linger (local mode).
process.on("disconnect", stop);
