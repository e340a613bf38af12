import type { HandlerContext } from "@connectrpc/connect";
import type { ProcessEvent } from "../../../../api/gen/envd/process/process_pb.js";
import type { ManagedProcess } from "../../os/managed-process.js";
import { keepaliveIntervalMs, withKeepalive } from "../../shared/keepalive.js";
import { endEvent, eventFromOutput, keepaliveEvent, startEvent } from "./convert.js";

/**
 * The event stream shared by Start and Connect: start(pid), the output from
 * the moment of subscription, keepalives, and exactly one end event — also
 * for a process that had already exited when the client attached.
 */
export async function* processEvents(
  proc: ManagedProcess,
  hc: HandlerContext,
): AsyncGenerator<ProcessEvent> {
  const subscription = proc.output.subscribe(hc.signal);
  yield startEvent(proc.pid);
  let ended = false;
  for await (const ev of withKeepalive(
    subscription,
    keepaliveIntervalMs(hc.requestHeader),
    keepaliveEvent,
  )) {
    if ("kind" in ev && ev.kind === "end") ended = true;
    yield "kind" in ev ? eventFromOutput(ev) : ev;
  }
  if (!ended && proc.exit && !hc.signal.aborted) yield endEvent(proc.exit);
}
