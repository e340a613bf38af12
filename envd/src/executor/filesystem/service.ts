import type { ServiceImpl } from "@connectrpc/connect";
import type { Filesystem } from "../../../../api/gen/envd/filesystem/filesystem_pb.js";
import { mapped, mappedStream } from "../../shared/error-mapping.js";
import type { ExecutorContext } from "../context.js";
import { listDirRpc, makeDirRpc, moveRpc, removeRpc, statRpc } from "./entries.js";
import { createWatcherRpc, getWatcherEventsRpc, removeWatcherRpc, watchDirRpc } from "./watch.js";

/** The filesystem.Filesystem service, backed by the executor's OS layer. */
export function filesystemService(ctx: ExecutorContext): ServiceImpl<typeof Filesystem> {
  return {
    stat: (req, hc) => mapped(() => statRpc(ctx, req, hc)),
    makeDir: (req, hc) => mapped(() => makeDirRpc(ctx, req, hc)),
    move: (req, hc) => mapped(() => moveRpc(ctx, req, hc)),
    listDir: (req, hc) => mapped(() => listDirRpc(ctx, req, hc)),
    remove: (req, hc) => mapped(() => removeRpc(ctx, req, hc)),
    watchDir: (req, hc) => mappedStream(watchDirRpc(ctx, req, hc)),
    createWatcher: (req, hc) => mapped(() => createWatcherRpc(ctx, req, hc)),
    getWatcherEvents: (req) => mapped(() => getWatcherEventsRpc(ctx, req)),
    removeWatcher: (req) => mapped(() => removeWatcherRpc(ctx, req)),
  };
}
