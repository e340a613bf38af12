/**
 * E2B's `/volumes` routes (API key auth, in the key's team): create (201 VolumeAndToken), list (200
 * Volume[]), get (200 VolumeAndToken), delete (204). Deleting a volume that sandboxes still mount
 * answers 204 at once, as E2B does; the claim goes once the last of them ends.
 */
import express from "express";
import type { Request, Response } from "express";
import type { ApiContext } from "../api/context.js";
import { checkVolumeId, parseNewVolume } from "./model.js";

const teamOf = (res: Response) => (res.locals as { auth: { team: string } }).auth.team;
const idOf = (req: Request) => checkVolumeId(String(req.params.volumeID ?? ""));

/** The router. */
export function volumeRoutes(ctx: ApiContext): express.Router {
  const r = express.Router();
  r.post("/volumes", async (req: Request, res: Response) => {
    res.status(201).json(await ctx.volumes.create(teamOf(res), parseNewVolume(req.body)));
  });
  r.get("/volumes", async (_req: Request, res: Response) => {
    res.json(await ctx.volumes.list(teamOf(res)));
  });
  r.get("/volumes/:volumeID", async (req: Request, res: Response) => {
    res.json(await ctx.volumes.get(teamOf(res), idOf(req)));
  });
  r.delete("/volumes/:volumeID", async (req: Request, res: Response) => {
    await ctx.volumes.remove(teamOf(res), idOf(req));
    res.status(204).end();
  });
  return r;
}
