import { create } from "@bufbuild/protobuf";
import {
  ListResponseSchema,
  Signal,
  type SendSignalRequest,
  type UpdateRequest,
} from "../../../../api/gen/envd/process/process_pb.js";
import { EnvdError } from "../../shared/errors.js";
import type { ExecutorContext } from "../context.js";
import { runningProcess } from "./input.js";

/** Process.List: the running processes. */
export function list(ctx: ExecutorContext) {
  return create(ListResponseSchema, {
    processes: ctx.processes.running().map((p) => ({
      pid: p.pid,
      tag: p.tag,
      config: { cmd: p.spec.cmd, args: p.spec.args, envs: p.spec.envs, cwd: p.spec.cwd },
    })),
  });
}

/** Process.SendSignal: SIGTERM or SIGKILL. */
export async function sendSignal(ctx: ExecutorContext, req: SendSignalRequest) {
  const proc = runningProcess(ctx, req.process);
  switch (req.signal) {
    case Signal.SIGTERM:
      proc.signal("SIGTERM");
      break;
    case Signal.SIGKILL:
      proc.signal("SIGKILL");
      break;
    default:
      throw new EnvdError("invalid_argument", "signal must be SIGTERM or SIGKILL");
  }
  return {};
}

/** Process.Update: resizes a PTY. */
export async function update(ctx: ExecutorContext, req: UpdateRequest) {
  const proc = runningProcess(ctx, req.process);
  const size = req.pty?.size;
  if (!size) throw new EnvdError("invalid_argument", "pty.size is required");
  proc.resize({ cols: size.cols, rows: size.rows });
  return {};
}
