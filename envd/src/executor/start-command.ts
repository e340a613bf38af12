import { launch } from "../os/managed-process.js";
import { processEnv } from "../os/process-env.js";
import type { ExecutorContext } from "./context.js";
import type { Logger } from "../../../lib/log.js";

/** The tag under which the template's start command runs (reachable with Connect by tag). */
export const START_COMMAND_TAG = "start-cmd";

/**
 * Runs the sandbox template's own start command (the container's original
 * command, passed after `--`) as the default user, in the process table like
 * any other process. Its output also goes to the executor's stdout/stderr, so
 * `kubectl logs` shows it. The sandbox stays up when it exits.
 */
export async function runStartCommand(
  ctx: ExecutorContext,
  argv: string[],
  log: Logger,
): Promise<void> {
  const [cmd, ...args] = argv;
  if (!cmd) return;
  const user = await ctx.namedUser(undefined);
  const proc = await launch({
    spec: { cmd, args, envs: {} },
    cwd: ctx.defaults.workdir ?? user.home,
    env: processEnv(user, ctx.defaults.envVars, {}),
    uid: ctx.uid === 0 ? user.uid : undefined,
    gid: ctx.uid === 0 ? user.gid : undefined,
    stdin: false,
    tag: START_COMMAND_TAG,
  });
  ctx.processes.add(proc);
  void (async () => {
    for await (const e of proc.output.subscribe()) {
      if (e.kind === "stdout" || e.kind === "pty") process.stdout.write(e.data);
      else if (e.kind === "stderr") process.stderr.write(e.data);
      else log.info("start command ended", { pid: proc.pid, status: e.exit.status });
    }
  })();
}
