import { stat } from "node:fs/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  RunResponseSchema,
  type RunRequest,
  type RunResponse,
} from "../../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { oneShotArgs } from "../../../../api/runtimes.js";
import { launch, type ManagedProcess } from "../../os/managed-process.js";
import { resolveUserPath } from "../../os/paths.js";
import { processEnv } from "../../os/process-env.js";
import type { UnixUser } from "../../os/users.js";
import { keepaliveIntervalMs, withKeepalive } from "../../shared/keepalive.js";
import { EnvdError } from "../../shared/errors.js";
import type { ExecutorContext } from "../context.js";
import { chooseRuntime } from "./choose.js";
import { findBinary } from "./find-binary.js";
import { createOutputLimit } from "./output-limit.js";

/**
 * Runtime.Run: runs `code` once in the chosen runtime's binary, as a process of the process
 * table (Process.List and Process.Connect see it), and streams start, stdout/stderr, at most one
 * truncated, and end. `timeout_ms` kills the process and the processes it started (its own
 * process group; end says `timed_out`); output past
 * `max_output_bytes` is dropped while the process runs on. As with Process.Start, a client
 * going away only ends the stream; the timeout or an RPC deadline ends the process.
 */
export async function* run(
  ctx: ExecutorContext,
  req: RunRequest,
  hc: HandlerContext,
): AsyncGenerator<RunResponse> {
  if (ctx.freezer.frozen)
    throw new EnvdError("failed_precondition", "the sandbox is paused (frozen); resume it first");
  const chosen = chooseRuntime(req);
  const user = await ctx.actingUser(hc.requestHeader.get("authorization"));
  const env = processEnv(user, ctx.defaults.envVars, req.envs);
  const binary = await findBinary(chosen.oneShot.binary, env.PATH);
  if (!binary) {
    throw new EnvdError(
      "failed_precondition",
      `runtime '${chosen.spec.name}' needs '${chosen.oneShot.binary}', which is not on PATH (${env.PATH ?? ""})`,
    );
  }
  const cwd = await resolveCwd(req.cwd, user, ctx.defaults.workdir);
  const args = oneShotArgs(chosen.oneShot, req.code);
  const started = performance.now();
  const proc = await launch({
    spec: { cmd: binary, args, envs: { ...req.envs }, cwd },
    cwd,
    env,
    uid: ctx.uid === 0 ? user.uid : undefined,
    gid: ctx.uid === 0 ? user.gid : undefined,
    stdin: chosen.oneShot.codeVia === "stdin",
    // The timeout and the RPC deadline end what the code started in the background as well.
    ownGroup: true,
  });
  ctx.processes.add(proc);
  if (chosen.oneShot.codeVia === "stdin") {
    proc.writeStdin(Buffer.from(req.code));
    proc.closeStdin();
  }
  // Subscribed before the first yield, as Process.Start does: no output waits in the orphan buffer.
  const subscription = proc.output.subscribe(hc.signal);
  const timeout = killAfter(proc, req.timeoutMs);
  killAfter(proc, hc.timeoutMs());

  yield event({
    case: "start",
    value: {
      pid: proc.pid,
      runtime: chosen.spec.name,
      command: [binary, ...args.slice(0, chosen.oneShot.args.length)],
    },
  });
  const limit = createOutputLimit(Number(req.maxOutputBytes));
  const keepalive = () => event({ case: "keepalive", value: {} });
  for await (const ev of withKeepalive(
    subscription,
    keepaliveIntervalMs(hc.requestHeader),
    keepalive,
  )) {
    if (!("kind" in ev)) {
      yield ev;
      continue;
    }
    if (ev.kind === "end") {
      yield event({
        case: "end",
        value: {
          exitCode: ev.exit.exitCode,
          timedOut: timeout.fired,
          durationMs: BigInt(Math.round(performance.now() - started)),
          status: ev.exit.status,
          droppedBytes: BigInt(limit.droppedBytes),
        },
      });
      return;
    }
    if (ev.kind === "pty") continue; // never: Run starts no PTY
    const { send, reachedLimit } = limit.take(ev.data);
    if (send)
      yield event(
        ev.kind === "stdout" ? { case: "stdout", value: send } : { case: "stderr", value: send },
      );
    if (reachedLimit) yield event({ case: "truncated", value: { limitBytes: req.maxOutputBytes } });
  }
}

function event(e: MessageInitShape<typeof RunResponseSchema>["event"]): RunResponse {
  return create(RunResponseSchema, { event: e });
}

/** Sends SIGKILL after `ms` (none for 0 or undefined); `fired` says whether it did. */
function killAfter(proc: ManagedProcess, ms: number | undefined): { fired: boolean } {
  const state = { fired: false };
  if (ms === undefined || ms <= 0) return state;
  const timer = setTimeout(() => {
    if (proc.exit) return;
    state.fired = true;
    proc.signal("SIGKILL");
  }, ms);
  void proc.done.then(() => clearTimeout(timer));
  return state;
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
