/**
 * E2B's volume content API, `/volumecontent/{volumeID}/dir|path|file`: authorised by the volume's
 * content token (`Authorization: Bearer`, from `POST /volumes` or `GET /volumes/{id}`), not by an
 * API key, so it is mounted before the key check. Each call goes to the volume's content sandbox
 * (made on first use, see content-sandbox.ts).
 */
import express from "express";
import type { NextFunction, Request, Response } from "express";
import type { ApiContext } from "../api/context.js";
import { ApiError, badRequest, toApiError } from "../api/errors.js";
import { createContentSandboxes } from "./content-sandbox.js";
import {
  readFileStream,
  runHelper,
  volumePath,
  writeFile,
  type ContentTarget,
  type HelperRequest,
  type VolumeEntryStat,
} from "./content-ops.js";
import { checkVolumeId } from "./model.js";

/** An optional unsigned 32-bit query value (uid, gid, mode); 400 when malformed. */
export function uint32Param(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || Number(raw) > 0xffffffff)
    throw badRequest(`${name} must be an unsigned integer`);
  return Number(raw);
}

/** An optional boolean query value; 400 when neither true nor false. */
export function boolParam(raw: unknown, name: string): boolean | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw badRequest(`${name} must be true or false`);
}

/** The bearer token of a request, or a 401. */
function bearer(req: Request): string {
  const h = req.headers.authorization ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m?.[1]) throw new ApiError(401, "no volume token: send it as Authorization: Bearer <token>");
  return m[1];
}

/** The router, to mount at `/volumecontent`. */
export function volumeContentRoutes(ctx: ApiContext): express.Router {
  const r = express.Router();
  const sandboxes = createContentSandboxes(ctx);

  const target = async (req: Request): Promise<ContentTarget> => {
    const id = checkVolumeId(String(req.params.volumeID ?? ""));
    const v = await ctx.volumes.authorize(bearer(req), id);
    const sandbox = await sandboxes.ensure(v);
    return { sandbox, token: await ctx.token(sandbox) };
  };
  const q = (req: Request) => req.query as Record<string, unknown>;
  const ownership = (req: Request): Pick<HelperRequest, "uid" | "gid" | "mode" | "force"> => {
    const out: Pick<HelperRequest, "uid" | "gid" | "mode" | "force"> = {};
    const uid = uint32Param(q(req).uid, "uid");
    const gid = uint32Param(q(req).gid, "gid");
    const mode = uint32Param(q(req).mode, "mode");
    const force = boolParam(q(req).force, "force");
    if (uid !== undefined) out.uid = uid;
    if (gid !== undefined) out.gid = gid;
    if (mode !== undefined) out.mode = mode;
    if (force !== undefined) out.force = force;
    return out;
  };

  r.get("/:volumeID/dir", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    const depth = uint32Param(q(req).depth, "depth") ?? 1;
    if (depth < 1) throw badRequest("depth must be at least 1");
    const t = await target(req);
    res.json(await runHelper<VolumeEntryStat[]>(t, { op: "list", path, depth }));
  });
  r.post("/:volumeID/dir", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    const own = ownership(req);
    const t = await target(req);
    res.status(201).json(await runHelper<VolumeEntryStat>(t, { op: "mkdir", path, ...own }));
  });
  r.get("/:volumeID/path", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    const t = await target(req);
    res.json(await runHelper<VolumeEntryStat>(t, { op: "stat", path }));
  });
  r.delete("/:volumeID/path", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    const t = await target(req);
    await runHelper(t, { op: "remove", path });
    res.status(204).end();
  });
  r.patch(
    "/:volumeID/path",
    express.json({ limit: 4096, type: () => true }),
    async (req: Request, res: Response) => {
      const path = volumePath(q(req).path);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const meta: Pick<HelperRequest, "uid" | "gid" | "mode"> = {};
      for (const k of ["uid", "gid", "mode"] as const) {
        const v = body[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
          throw badRequest(`${k} must be an unsigned 32-bit integer`);
        meta[k] = v;
      }
      const t = await target(req);
      res.json(await runHelper<VolumeEntryStat>(t, { op: "meta", path, ...meta }));
    },
  );
  r.get("/:volumeID/file", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    const t = await target(req);
    const file = await readFileStream(t, path);
    res.status(200).setHeader("content-type", "application/octet-stream");
    if (file.size !== undefined) res.setHeader("content-length", String(file.size));
    file.body.on("error", (err) => res.destroy(err));
    file.body.pipe(res);
  });
  r.put("/:volumeID/file", async (req: Request, res: Response) => {
    const path = volumePath(q(req).path);
    if (path === "/") throw badRequest("the path must name a file");
    const own = ownership(req);
    const t = await target(req);
    res.status(201).json(await writeFile(t, { path, ...own }, req));
  });
  // Errors answer here as `{code, message}`, like the rest of the API (this router runs before it).
  r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = toApiError(err);
    if (e.status >= 500) ctx.log.error("volume content request failed", { error: e.cause ?? e });
    res.status(e.status).json(e.toJSON());
  });
  return r;
}
