import type { HandlerContext } from "@connectrpc/connect";
import type {
  ListDirRequest,
  MakeDirRequest,
  MoveRequest,
  RemoveRequest,
  StatRequest,
} from "../../../../api/gen/envd/filesystem/filesystem_pb.js";
import { statEntry } from "../../os/entry-info.js";
import { listDir, makeDir, move, remove, type Actor } from "../../os/fs-ops.js";
import { resolveUserPath } from "../../os/paths.js";
import type { ExecutorContext } from "../context.js";
import { entryToWire } from "./convert.js";

/** The acting user and where their relative paths start. */
export async function actorFor(ctx: ExecutorContext, hc: HandlerContext): Promise<Actor> {
  const user = await ctx.actingUser(hc.requestHeader.get("authorization"));
  return { user, chown: ctx.uid === 0 };
}

/** Filesystem.Stat. */
export async function statRpc(ctx: ExecutorContext, req: StatRequest, hc: HandlerContext) {
  const { user } = await actorFor(ctx, hc);
  return { entry: entryToWire(await statEntry(resolveUserPath(req.path, user.home), ctx.users)) };
}

/** Filesystem.MakeDir: `mkdir -p`; AlreadyExists when the directory was there. */
export async function makeDirRpc(ctx: ExecutorContext, req: MakeDirRequest, hc: HandlerContext) {
  const actor = await actorFor(ctx, hc);
  return {
    entry: entryToWire(await makeDir(resolveUserPath(req.path, actor.user.home), actor, ctx.users)),
  };
}

/** Filesystem.Move. */
export async function moveRpc(ctx: ExecutorContext, req: MoveRequest, hc: HandlerContext) {
  const actor = await actorFor(ctx, hc);
  const home = actor.user.home;
  const entry = await move(
    resolveUserPath(req.source, home),
    resolveUserPath(req.destination, home),
    actor,
    ctx.users,
  );
  return { entry: entryToWire(entry) };
}

/** Filesystem.ListDir to a depth (0 and 1 both mean the children only). */
export async function listDirRpc(ctx: ExecutorContext, req: ListDirRequest, hc: HandlerContext) {
  const { user } = await actorFor(ctx, hc);
  const entries = await listDir(resolveUserPath(req.path, user.home), req.depth, ctx.users);
  return { entries: entries.map(entryToWire) };
}

/** Filesystem.Remove: a file or a whole tree. */
export async function removeRpc(ctx: ExecutorContext, req: RemoveRequest, hc: HandlerContext) {
  const { user } = await actorFor(ctx, hc);
  await remove(resolveUserPath(req.path, user.home));
  return {};
}
