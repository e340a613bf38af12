import { errorLine, resultFromBundle, type OutputLine } from "../protocol.js";
import type { JupyterMessage } from "./wire.js";

/**
 * Maps one iopub message to the line /execute streams for it, or undefined for messages the
 * SDKs have no use for (execute_input, clear_output, comm messages, status).
 */
export function outputFromIopub(msg: JupyterMessage): OutputLine | undefined {
  const c = msg.content;
  switch (msg.header.msg_type) {
    case "stream": {
      const name = c.name === "stderr" ? "stderr" : "stdout";
      return { type: name, text: String(c.text ?? ""), timestamp: msg.header.date };
    }
    case "execute_result":
      return resultFromBundle(bundle(c), true);
    case "display_data":
    case "update_display_data":
      return resultFromBundle(bundle(c), false);
    case "error":
      return errorLine(c);
    default:
      return undefined;
  }
}

function bundle(c: Record<string, unknown>): Record<string, unknown> {
  return typeof c.data === "object" && c.data !== null ? (c.data as Record<string, unknown>) : {};
}
