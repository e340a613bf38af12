/**
 * The express app of the REST API: audit, auth, rate limit, body checks, the routes, and one error
 * handler that answers every failure as `{code, message}` with the same HTTP status.
 */
import express from "express";
import type { NextFunction, Request, Response } from "express";
import { auditMiddleware, type AuditLog } from "../audit.js";
import type { KeyStore } from "../auth/key-store.js";
import { authMiddleware, rateLimitMiddleware } from "../auth/middleware.js";
import type { RateLimiter } from "../auth/rate-limit.js";
import type { ApiContext } from "./context.js";
import { ApiError, badRequest, toApiError } from "./errors.js";
import { apiRoutes } from "./routes.js";
import { volumeContentRoutes } from "../volumes/content-routes.js";

/** What the app is built from. */
export interface AppDeps {
  ctx: ApiContext;
  keys: KeyStore;
  limiter: RateLimiter;
  audit: AuditLog;
}

/** True when the request carries a body (a length above zero, or a chunked one). */
function hasBody(req: Request): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/** Maps body-parser's errors (they carry `type` and `status`) onto API errors. */
function bodyError(err: unknown, maxBodyBytes: number): ApiError | undefined {
  const e = err as { type?: unknown; status?: unknown } | null;
  if (typeof e?.type !== "string") return undefined;
  if (e.type === "entity.too.large")
    return new ApiError(413, `the request body is larger than ${maxBodyBytes} bytes`, {
      cause: err,
    });
  if (e.type === "entity.parse.failed")
    return badRequest("the request body is not valid JSON", { cause: err });
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500)
    return badRequest(`the request body cannot be read (${e.type})`, { cause: err });
  return undefined;
}

/** Builds the app. */
export function createApiApp(deps: AppDeps): express.Express {
  const { ctx } = deps;
  const app = express();
  app.disable("x-powered-by");
  // Sandbox state changes by the second; no conditional GETs.
  app.set("etag", false);
  app.use(auditMiddleware(deps.audit));
  // Authorised by the volume's own token, not an API key; bodies are file bytes, not JSON.
  app.use("/volumecontent", volumeContentRoutes(ctx));
  app.use(authMiddleware(deps.keys));
  app.use(rateLimitMiddleware(deps.limiter));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (hasBody(req) && !req.is("application/json")) {
      next(
        badRequest(
          `the request body must be JSON (Content-Type: application/json), not '${req.headers["content-type"] ?? "none"}'`,
        ),
      );
      return;
    }
    next();
  });
  app.use(express.json({ limit: ctx.config.maxBodyBytes, strict: true, type: "application/json" }));
  app.use(apiRoutes(ctx));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError(404, `no route for ${req.method} ${req.path}`));
  });
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const apiErr = bodyError(err, ctx.config.maxBodyBytes) ?? toApiError(err);
    if (apiErr.status >= 500)
      ctx.log.error("request failed", {
        method: req.method,
        path: req.path,
        status: apiErr.status,
        error: apiErr.cause instanceof Error ? apiErr.cause : apiErr,
      });
    res.status(apiErr.status).json(apiErr.toJSON());
  });
  return app;
}
