import { stat } from "node:fs/promises";
import type { HandlerContext } from "@connectrpc/connect";
import type { StartRequest, StartResponse } from "../../../../api/gen/envd/process/process_pb.js";
import { launch } from "../../os/managed-process.js";
import { resolveUserPath } from "../../os/paths.js";
import { processEnv } from "../../os/process-env.js";
import type { UnixUser } from "../../os/users.js";
import { EnvdError } from "../../shared/errors.js";
import type { ExecutorContext } from "../context.js";
import { specFromWire } from "./convert.js";
import { processEvents } from "./stream-events.js";

/**
 * Process.Start: launches a process and streams its events. The process
 * outlives the request: a client going away only ends the stream; a deadline
 * (`Connect-Timeout-Ms`, 0 = none) kills the process.
 */
export async function* start(
  ctx: ExecutorContext,
  req: StartRequest,
  hc: HandlerContext,
): AsyncGenerator<StartResponse> {
  if (ctx.freezer.frozen)
    throw new EnvdError("failed_precondition", "the sandbox is paused (frozen); resume it first");
  const user = await ctx.actingUser(hc.requestHeader.get("authorization"));
  const spec = specFromWire(req.process);
  if (req.tag !== undefined) ctx.processes.assertTagFree(req.tag);
  const size = req.pty?.size;
  if (req.pty && (!size || size.cols < 1 || size.rows < 1)) {
    throw new EnvdError("invalid_argument", "pty.size must have cols and rows of at least 1");
  }
  const cwd = await resolveCwd(spec.cwd, user, ctx.defaults.workdir);
  const proc = await launch({
    spec,
    cwd,
    env: processEnv(user, ctx.defaults.envVars, spec.envs),
    uid: ctx.uid === 0 ? user.uid : undefined,
    gid: ctx.uid === 0 ? user.gid : undefined,
    pty: size ? { cols: size.cols, rows: size.rows } : undefined,
    stdin: req.stdin ?? true,
    tag: req.tag,
  });
  ctx.processes.add(proc);
  killAtDeadline(proc.pid, hc.timeoutMs(), (sig) => proc.signal(sig), proc.done);
  for await (const event of processEvents(proc, hc))
    yield { $typeName: "process.StartResponse", event };
}

async function resolveCwd(
  requested: string | undefined,
  user: UnixUser,
  workdir: string | undefined,
) {
  const cwd = requested ? resolveUserPath(requested, user.home) : (workdir ?? user.home);
  const st = await stat(cwd).catch(() => undefined);
  if (!st) throw new EnvdError("invalid_argument", `cwd '${cwd}' does not exist`);
  if (!st.isDirectory()) throw new EnvdError("invalid_argument", `cwd '${cwd}' is not a directory`);
  return cwd;
}

function killAtDeadline(
  _pid: number,
  timeoutMs: number | undefined,
  kill: (sig: NodeJS.Signals) => void,
  done: Promise<unknown>,
) {
  if (timeoutMs === undefined || timeoutMs <= 0) return;
  const timer = setTimeout(() => kill("SIGKILL"), timeoutMs);
  void done.then(() => clearTimeout(timer));
}
