import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  WatchDirResponseSchema,
  type CreateWatcherRequest,
  type GetWatcherEventsRequest,
  type RemoveWatcherRequest,
  type WatchDirRequest,
  type WatchDirResponse,
} from "../../../../api/gen/envd/filesystem/filesystem_pb.js";
import { watchDirectory, type FsEvent } from "../../os/dir-watcher.js";
import { statEntry } from "../../os/entry-info.js";
import { resolveUserPath } from "../../os/paths.js";
import type { EnvdError } from "../../shared/errors.js";
import { keepaliveIntervalMs, withKeepalive } from "../../shared/keepalive.js";
import type { ExecutorContext } from "../context.js";
import { eventToWire } from "./convert.js";
import { actorFor } from "./entries.js";

async function withEntry(ctx: ExecutorContext, e: FsEvent, include: boolean) {
  if (!include || e.type === "remove" || e.type === "rename") return eventToWire(e);
  return eventToWire(e, await statEntry(e.path, ctx.users).catch(() => undefined));
}

/** Filesystem.WatchDir: a start event, then changes as they happen, until the client leaves. */
export async function* watchDirRpc(
  ctx: ExecutorContext,
  req: WatchDirRequest,
  hc: HandlerContext,
): AsyncGenerator<WatchDirResponse> {
  const { user } = await actorFor(ctx, hc);
  const queue: (FsEvent | EnvdError)[] = [];
  let wake: (() => void) | undefined;
  const push = (item: FsEvent | EnvdError) => {
    queue.push(item);
    wake?.();
  };
  const watch = await watchDirectory(
    resolveUserPath(req.path, user.home),
    req.recursive,
    push,
    push,
  );
  const abort = () => wake?.();
  hc.signal.addEventListener("abort", abort);
  async function* events(): AsyncGenerator<FsEvent> {
    while (!hc.signal.aborted) {
      const item = queue.shift();
      if (item === undefined) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      if (item instanceof Error) throw item;
      yield item;
    }
  }
  try {
    yield create(WatchDirResponseSchema, { event: { case: "start", value: {} } });
    const keepalive = () =>
      create(WatchDirResponseSchema, { event: { case: "keepalive", value: {} } });
    for await (const item of withKeepalive(
      events(),
      keepaliveIntervalMs(hc.requestHeader),
      keepalive,
    )) {
      if ("$typeName" in item) yield item;
      else {
        const value = await withEntry(ctx, item, req.includeEntry);
        yield create(WatchDirResponseSchema, { event: { case: "filesystem", value } });
      }
    }
  } finally {
    hc.signal.removeEventListener("abort", abort);
    watch.close();
  }
}

/** Filesystem.CreateWatcher: starts a polling watcher. */
export async function createWatcherRpc(
  ctx: ExecutorContext,
  req: CreateWatcherRequest,
  hc: HandlerContext,
) {
  const { user } = await actorFor(ctx, hc);
  return {
    watcherId: await ctx.watchers.create(resolveUserPath(req.path, user.home), req.recursive),
  };
}

/** Filesystem.GetWatcherEvents: the events since the last call. */
export async function getWatcherEventsRpc(ctx: ExecutorContext, req: GetWatcherEventsRequest) {
  const events = ctx.watchers.drain(req.watcherId);
  return { events: events.map((e) => eventToWire(e)) };
}

/** Filesystem.RemoveWatcher. */
export async function removeWatcherRpc(ctx: ExecutorContext, req: RemoveWatcherRequest) {
  ctx.watchers.remove(req.watcherId);
  return {};
}
