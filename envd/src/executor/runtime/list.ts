import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  ListResponseSchema,
  type ListResponse,
} from "../../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { RUNTIME_TABLE } from "../../../../api/runtimes.js";
import { processEnv } from "../../os/process-env.js";
import type { ExecutorContext } from "../context.js";
import { findBinary } from "./find-binary.js";

/**
 * Runtime.List: every runtime of the table, with where its binary is on the PATH a process of
 * the acting user would get, and whether Run can start it.
 */
export async function list(ctx: ExecutorContext, hc: HandlerContext): Promise<ListResponse> {
  const user = await ctx.actingUser(hc.requestHeader.get("authorization"));
  const path = processEnv(user, ctx.defaults.envVars, {}).PATH;
  const runtimes = await Promise.all(
    RUNTIME_TABLE.map(async (r) => {
      const binaryPath = (await findBinary(r.binary, path)) ?? "";
      return {
        name: r.name,
        languages: r.languages,
        extensions: r.extensions,
        features: r.features,
        binary: r.binary,
        binaryPath,
        available: r.oneShot !== undefined && binaryPath !== "",
      };
    }),
  );
  return create(ListResponseSchema, { runtimes });
}
