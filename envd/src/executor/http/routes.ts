import { openForDownload, writeUpload } from "../../os/file-transfer.js";
import { resolveUserPath } from "../../os/paths.js";
import type { SandboxMetrics } from "../../../../api/envd.js";
import { EnvdError } from "../../shared/errors.js";
import {
  INTERNAL_METADATA_HEADER,
  UPLOAD_COMPLETE_TRAILER,
  completeBody,
  readSmallBody,
  sendError,
  sendJson,
  type AnyRequest,
  writeHead,
  type AnyResponse,
} from "../../shared/http-util.js";
import type { ExecutorContext } from "../context.js";
import { compose } from "./compose.js";

/** The init payload the sidecar forwards (the access token stays in the sidecar). */
interface InitBody {
  envVars?: Record<string, string>;
  defaultUser?: string;
  defaultWorkdir?: string;
}

/**
 * The executor's plain-HTTP side, reachable only through its unix socket:
 * file bodies, sandbox defaults and metrics. Authentication happened in the
 * sidecar.
 */
export function createExecutorHttp(
  ctx: ExecutorContext,
  readMetrics: () => Promise<SandboxMetrics>,
) {
  return async (req: AnyRequest, res: AnyResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? "/", "http://executor");
      const route = `${req.method} ${url.pathname}`;
      switch (route) {
        case "GET /health":
          writeHead(res, 204).end();
          return;
        case "GET /files":
          return await download(ctx, url, res);
        case "POST /files":
          return await upload(ctx, url, req, res);
        case "POST /files/compose":
          return await compose(ctx, req, res);
        case "GET /envs":
          return sendJson(res, 200, ctx.defaults.envVars);
        case "POST /init":
          return await init(ctx, req, res);
        case "GET /metrics":
          return sendJson(res, 200, await readMetrics());
        case "GET /freeze":
          return sendJson(res, 200, { frozen: ctx.freezer.frozen });
        case "POST /freeze":
          return sendJson(res, 200, { frozen: true, processes: await ctx.freezer.freeze() });
        case "POST /thaw":
          return sendJson(res, 200, { frozen: false, processes: await ctx.freezer.thaw() });
        default:
          return sendJson(res, 404, { code: 404, message: `no route for ${route}` });
      }
    } catch (err) {
      sendError(res, err);
    }
  };
}

async function download(ctx: ExecutorContext, url: URL, res: AnyResponse) {
  const user = await ctx.namedUser(url.searchParams.get("username") ?? undefined);
  const path = resolveUserPath(url.searchParams.get("path") ?? "", user.home);
  const { size, stream } = await openForDownload(path);
  writeHead(res, 200, { "content-type": "application/octet-stream", "content-length": size });
  stream.on("error", () => res.destroy());
  stream.pipe(res as NodeJS.WritableStream);
}

async function upload(ctx: ExecutorContext, url: URL, req: AnyRequest, res: AnyResponse) {
  // Watch the body before any await, so a reset that arrives early is not missed.
  const body = completeBody(req, UPLOAD_COMPLETE_TRAILER);
  const user = await ctx.namedUser(url.searchParams.get("username") ?? undefined);
  const path = resolveUserPath(url.searchParams.get("path") ?? "", user.home);
  const raw = req.headers[INTERNAL_METADATA_HEADER];
  const metadata =
    typeof raw === "string"
      ? (JSON.parse(Buffer.from(raw, "base64").toString()) as Record<string, string>)
      : {};
  const result = await writeUpload(path, body, { user, chown: ctx.uid === 0 }, metadata);
  sendJson(res, 200, [result]);
}

async function init(ctx: ExecutorContext, req: AnyRequest, res: AnyResponse) {
  const body = JSON.parse((await readSmallBody(req)).toString() || "{}") as InitBody;
  if (body.defaultUser !== undefined) {
    await ctx.users.lookup(body.defaultUser); // refuse a user the sandbox does not have
    ctx.defaults.user = body.defaultUser;
  }
  if (body.defaultWorkdir !== undefined) ctx.defaults.workdir = body.defaultWorkdir || undefined;
  if (body.envVars) {
    for (const [k, v] of Object.entries(body.envVars)) {
      if (typeof v !== "string")
        throw new EnvdError("invalid_argument", `envVars.${k} must be a string`);
    }
    ctx.defaults.envVars = { ...ctx.defaults.envVars, ...body.envVars };
  }
  writeHead(res, 204).end();
}
