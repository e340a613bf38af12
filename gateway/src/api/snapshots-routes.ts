/**
 * The routes of E2B's snapshot and fork API: `POST /sandboxes/{id}/snapshots`, `GET /snapshots`,
 * `DELETE /templates/{id}` for a snapshot id or name (the SDK's deleteSnapshot; any other id is
 * left to the template routes), `DELETE /snapshots/{id}`, and `POST /sandboxes/{id}/fork`.
 */
import express from "express";
import type { Request, Response } from "express";
import { findSandbox, type ApiContext } from "./context.js";
import { ApiError, badRequest } from "./errors.js";
import { forkSandbox } from "./fork.js";
import { encodeCursor, type QueryValue } from "./list-query.js";
import type { CallerLocals } from "./routes.js";
import { createNamedSnapshot, deleteSnapshots, listSnapshots } from "./snapshots.js";
import { isRecord } from "./validate.js";

const teamOf = (res: Response) => (res.locals as CallerLocals).auth.team;
const param = (req: Request, name: string): string => {
  const v = req.params[name];
  return typeof v === "string" ? v : "";
};
const bodyOf = (req: Request): Record<string, unknown> => {
  const b: unknown = req.body;
  if (b === undefined || b === null) return {};
  if (!isRecord(b)) throw badRequest("the request body must be a JSON object");
  return b;
};
/** The caller's sandbox of the `:id` route parameter, noted for the audit log. */
const sandboxOf = (ctx: ApiContext, req: Request, res: Response) => {
  const id = param(req, "id");
  (res.locals as CallerLocals).sandboxID = id;
  return findSandbox(ctx, teamOf(res), id);
};

/** Builds the router; mount it before the template routes (it passes on non-snapshot ids). */
export function snapshotRoutes(ctx: ApiContext): express.Router {
  const r = express.Router();

  r.post("/sandboxes/:id/snapshots", async (req: Request, res: Response) => {
    const s = sandboxOf(ctx, req, res);
    res.status(201).json(await createNamedSnapshot(ctx, s, bodyOf(req)));
  });

  r.get("/snapshots", async (req: Request, res: Response) => {
    const { page, next } = await listSnapshots(
      ctx,
      teamOf(res),
      req.query as Record<string, QueryValue>,
    );
    if (next) res.setHeader("X-Next-Token", encodeCursor(next));
    res.json(page);
  });

  r.delete("/templates/:templateID", async (req: Request, res: Response, next) => {
    const done = await deleteSnapshots(ctx, teamOf(res), param(req, "templateID"));
    if (!done) {
      next();
      return;
    }
    res.status(204).end();
  });

  r.delete("/snapshots/:snapshotID", async (req: Request, res: Response) => {
    const id = param(req, "snapshotID");
    if (!(await deleteSnapshots(ctx, teamOf(res), id)))
      throw new ApiError(404, `snapshot '${id}' not found`);
    res.status(204).end();
  });

  r.post("/sandboxes/:id/fork", async (req: Request, res: Response) => {
    const s = sandboxOf(ctx, req, res);
    res.status(201).json(await forkSandbox(ctx, s, bodyOf(req)));
  });
  return r;
}
