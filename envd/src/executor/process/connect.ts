import type { HandlerContext } from "@connectrpc/connect";
import type {
  ConnectRequest,
  ConnectResponse,
} from "../../../../api/gen/envd/process/process_pb.js";
import type { ExecutorContext } from "../context.js";
import { refFromWire } from "./convert.js";
import { processEvents } from "./stream-events.js";

/** Process.Connect: reattaches to a process by pid or tag, however long it has run. */
export async function* connect(
  ctx: ExecutorContext,
  req: ConnectRequest,
  hc: HandlerContext,
): AsyncGenerator<ConnectResponse> {
  const proc = ctx.processes.get(refFromWire(req.process));
  for await (const event of processEvents(proc, hc))
    yield { $typeName: "process.ConnectResponse", event };
}
