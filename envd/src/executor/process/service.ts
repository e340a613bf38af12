import type { ServiceImpl } from "@connectrpc/connect";
import type { Process } from "../../../../api/gen/envd/process/process_pb.js";
import { mapped, mappedStream } from "../../shared/error-mapping.js";
import type { ExecutorContext } from "../context.js";
import { connect } from "./connect.js";
import { list, sendSignal, update } from "./control.js";
import { closeStdin, sendInput, streamInput } from "./input.js";
import { start } from "./start.js";

/** The process.Process service, backed by the executor's OS layer. */
export function processService(ctx: ExecutorContext): ServiceImpl<typeof Process> {
  return {
    list: () => list(ctx),
    start: (req, hc) => mappedStream(start(ctx, req, hc)),
    connect: (req, hc) => mappedStream(connect(ctx, req, hc)),
    update: (req) => mapped(() => update(ctx, req)),
    sendInput: (req) => mapped(() => sendInput(ctx, req)),
    streamInput: (reqs) => mapped(() => streamInput(ctx, reqs)),
    sendSignal: (req) => mapped(() => sendSignal(ctx, req)),
    closeStdin: (req) => mapped(() => closeStdin(ctx, req)),
  };
}
