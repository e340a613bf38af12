import { create } from "@bufbuild/protobuf";
import {
  ProcessEventSchema,
  type ProcessConfig,
  type ProcessEvent,
  type ProcessSelector,
} from "../../../../api/gen/envd/process/process_pb.js";
import type { ExitInfo, OutputEvent, ProcessSpec } from "../../os/process-types.js";
import type { ProcessRef } from "../../os/process-table.js";
import { EnvdError } from "../../shared/errors.js";

/** Wire config → OS spec. Throws `invalid_argument` when the command is missing. */
export function specFromWire(config: ProcessConfig | undefined): ProcessSpec {
  if (!config || config.cmd === "")
    throw new EnvdError("invalid_argument", "process.cmd is required");
  return { cmd: config.cmd, args: [...config.args], envs: { ...config.envs }, cwd: config.cwd };
}

/** Wire selector → table reference. */
export function refFromWire(selector: ProcessSelector | undefined): ProcessRef {
  switch (selector?.selector.case) {
    case "pid":
      return { pid: selector.selector.value };
    case "tag":
      return { tag: selector.selector.value };
    default:
      throw new EnvdError("invalid_argument", "a process selector (pid or tag) is required");
  }
}

/** The first event of every Start and Connect stream. */
export function startEvent(pid: number): ProcessEvent {
  return create(ProcessEventSchema, { event: { case: "start", value: { pid } } });
}

/** The end event for an exit. */
export function endEvent(exit: ExitInfo): ProcessEvent {
  return create(ProcessEventSchema, {
    event: {
      case: "end",
      value: {
        exitCode: exit.exitCode,
        exited: exit.exited,
        status: exit.status,
        error: exit.error,
      },
    },
  });
}

/** A keepalive event. */
export function keepaliveEvent(): ProcessEvent {
  return create(ProcessEventSchema, { event: { case: "keepalive", value: {} } });
}

/** OS output → wire event. */
export function eventFromOutput(e: OutputEvent): ProcessEvent {
  if (e.kind === "end") return endEvent(e.exit);
  return create(ProcessEventSchema, {
    event: { case: "data", value: { output: { case: e.kind, value: e.data } } },
  });
}
