import type { ServiceImpl } from "@connectrpc/connect";
import type { Runtime } from "../../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { mapped, mappedStream } from "../../shared/error-mapping.js";
import type { ExecutorContext } from "../context.js";
import { list } from "./list.js";
import { run } from "./run.js";

/** The soulbox.runtime.v1.Runtime service: runs code once in one of the sandbox's runtimes. */
export function runtimeService(ctx: ExecutorContext): ServiceImpl<typeof Runtime> {
  return {
    list: (_req, hc) => mapped(() => list(ctx, hc)),
    run: (req, hc) => mappedStream(run(ctx, req, hc)),
  };
}
