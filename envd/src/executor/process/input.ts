import type {
  CloseStdinRequest,
  ProcessInput,
  SendInputRequest,
  StreamInputRequest,
} from "../../../../api/gen/envd/process/process_pb.js";
import type { ManagedProcess } from "../../os/managed-process.js";
import { EnvdError } from "../../shared/errors.js";
import type { ExecutorContext } from "../context.js";
import { refFromWire } from "./convert.js";

function running(ctx: ExecutorContext, selector: SendInputRequest["process"]): ManagedProcess {
  const proc = ctx.processes.get(refFromWire(selector));
  if (proc.exit)
    throw new EnvdError("not_found", `process ${proc.pid} is not running (it has exited)`);
  return proc;
}

function deliver(proc: ManagedProcess, input: ProcessInput | undefined) {
  switch (input?.input.case) {
    case "stdin":
      return proc.writeStdin(input.input.value);
    case "pty":
      return proc.writePty(input.input.value);
    default:
      throw new EnvdError("invalid_argument", "input (stdin or pty bytes) is required");
  }
}

/** Process.SendInput: one chunk of stdin or PTY input. */
export async function sendInput(ctx: ExecutorContext, req: SendInputRequest) {
  deliver(running(ctx, req.process), req.input);
  return {};
}

/** Process.StreamInput: a start event naming the process, then input chunks in order. */
export async function streamInput(ctx: ExecutorContext, reqs: AsyncIterable<StreamInputRequest>) {
  let proc: ManagedProcess | undefined;
  for await (const req of reqs) {
    switch (req.event.case) {
      case "start":
        if (proc) throw new EnvdError("invalid_argument", "the start event may only be sent once");
        proc = running(ctx, req.event.value.process);
        break;
      case "data":
        if (!proc)
          throw new EnvdError("invalid_argument", "the first message must be a start event");
        deliver(proc, req.event.value.input);
        break;
      default:
        break; // keepalives carry nothing
    }
  }
  return {};
}

/** Process.CloseStdin: signals EOF to the process. */
export async function closeStdin(ctx: ExecutorContext, req: CloseStdinRequest) {
  running(ctx, req.process).closeStdin();
  return {};
}

export { running as runningProcess };
