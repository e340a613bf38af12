import { Readable } from "node:stream";
import { ENVD_VERSION } from "../../../api/envd.js";
import { EnvdError } from "../shared/errors.js";
import {
  readSmallBody,
  sendError,
  sendJson,
  type AnyRequest,
  type AnyResponse,
  writeHead,
} from "../shared/http-util.js";
import type { AuditLog } from "./audit.js";
import { requireToken } from "./auth.js";
import {
  composeParts,
  downloadFile,
  readAll,
  relayError,
  requestHeader,
  uploadFile,
  type FilesDeps,
} from "./files-route.js";

/** The plain-HTTP routes beside the RPC services, as E2B's SDK calls them. */
export function createHttpRoutes(deps: FilesDeps, audit: AuditLog) {
  return async (req: AnyRequest, res: AnyResponse): Promise<void> => {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://envd");
    const route = `${req.method} ${url.pathname}`;
    try {
      await dispatch(deps, route, url, req, res);
    } catch (err) {
      abandonBody(req, res);
      if (err instanceof Error && "tooLarge" in err)
        sendJson(res, 413, { code: 413, message: "request body too large" });
      else if (err instanceof SyntaxError)
        sendJson(res, 400, { code: 400, message: `malformed JSON: ${err.message}` });
      else if (err instanceof URIError)
        sendJson(res, 400, { code: 400, message: "malformed URL encoding in the query" });
      else sendError(res, err);
    } finally {
      if (route !== "GET /health" && route !== "GET /ready") {
        audit.write({
          kind: "http",
          op: route,
          path: safeParam(url, "path"),
          user: safeParam(url, "username"),
          status: String(res.statusCode),
          durationMs: Math.round(performance.now() - started),
        });
      }
    }
  };
}

/**
 * After an early error the client may still be sending a body: stop reading
 * it into anything, let it drain, and close an HTTP/1.1 connection afterwards
 * so the next request on it is not stuck behind the rest of this body.
 */
function abandonBody(req: AnyRequest, res: AnyResponse) {
  if (req.readableEnded) return;
  req.unpipe();
  req.resume();
  if (req.httpVersionMajor === 1 && !res.headersSent) res.setHeader("connection", "close");
}

function safeParam(url: URL, name: string): string | undefined {
  return url.searchParams.get(name) ?? undefined;
}

async function dispatch(
  deps: FilesDeps,
  route: string,
  url: URL,
  req: AnyRequest,
  res: AnyResponse,
) {
  switch (route) {
    case "GET /health":
      writeHead(res, 204, { "x-envd-version": ENVD_VERSION }).end();
      return;
    case "GET /ready":
      return ready(deps, res);
    case "GET /version":
      return sendJson(res, 200, { version: ENVD_VERSION });
    case "POST /init":
      return init(deps, req, res);
    case "GET /envs":
    case "GET /metrics":
    case "GET /freeze":
    case "POST /freeze":
    case "POST /thaw":
      requireToken(deps.tokens, requestHeader(req, "x-access-token"));
      return forward(deps, req.method ?? "GET", url.pathname, res);
    case "POST /files/compose":
      requireToken(deps.tokens, requestHeader(req, "x-access-token"));
      return composeParts(deps, req, res);
    case "GET /files":
      return downloadFile(deps, url, req, res);
    case "POST /files":
      return uploadFile(deps, url, req, res);
    default:
      return sendJson(res, 404, { code: 404, message: `no route for ${route}` });
  }
}

/**
 * POST /init: sets sandbox-wide env vars, the default user and workdir, and
 * the access token. Once a token is set, changing anything needs that token.
 */
async function init(deps: FilesDeps, req: AnyRequest, res: AnyResponse) {
  requireToken(deps.tokens, requestHeader(req, "x-access-token"));
  const raw = (await readSmallBody(req)).toString() || "{}";
  const body = JSON.parse(raw) as Record<string, unknown>;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new EnvdError("invalid_argument", "the init body must be a JSON object");
  }
  if (body.accessToken !== undefined && typeof body.accessToken !== "string") {
    throw new EnvdError("invalid_argument", "accessToken must be a string");
  }
  if (body.envVars !== undefined && (typeof body.envVars !== "object" || body.envVars === null)) {
    throw new EnvdError("invalid_argument", "envVars must be an object of strings");
  }
  const forwarded = JSON.stringify({
    envVars: body.envVars,
    defaultUser: body.defaultUser,
    defaultWorkdir: body.defaultWorkdir,
  });
  const upstream = await deps.executor.request(
    { ":method": "POST", ":path": "/init", "content-type": "application/json" },
    streamOf(forwarded),
  );
  if (upstream.status >= 300) return relayError(upstream.stream, upstream.status, res);
  await readAll(upstream.stream);
  if (typeof body.accessToken === "string" && body.accessToken !== "")
    deps.tokens.token = body.accessToken;
  writeHead(res, 204).end();
}

/**
 * Readiness for Kubernetes: the sidecar alone can answer /health long before
 * the executor in the sandbox container listens, so ready means the executor
 * answered through the link. Unauthenticated like /health; it reveals nothing.
 */
async function ready(deps: FilesDeps, res: AnyResponse) {
  const ok = await deps.executor
    .request({ ":method": "GET", ":path": "/health" })
    .then(async (upstream) => {
      await readAll(upstream.stream);
      return upstream.status < 300;
    })
    .catch(() => false);
  if (ok) writeHead(res, 204, { "x-envd-version": ENVD_VERSION }).end();
  else sendJson(res, 503, { code: 503, message: "the executor does not answer yet" });
}

async function forward(deps: FilesDeps, method: string, path: string, res: AnyResponse) {
  const upstream = await deps.executor.request({ ":method": method, ":path": path });
  const text = await readAll(upstream.stream);
  writeHead(res, upstream.status, { "content-type": "application/json" });
  res.end(text);
}

function streamOf(text: string): NodeJS.ReadableStream {
  return Readable.from([Buffer.from(text)]);
}
