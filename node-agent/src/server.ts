/**
 * The agent's HTTP server: bearer-token auth, JSON in and out, and single flight per call id so
 * that a repeated capture or restore (an operator that restarted, a retry after a timeout) joins
 * the one already running instead of starting a second.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createTlsServer } from "node:https";
import { timingSafeEqual } from "node:crypto";
import {
  NodeAgentPath,
  type CaptureRequest,
  type NodeAgentErrorBody,
  type PodContainerRef,
  type RestoreImageRequest,
  type ForgetImageRequest,
  type RestoreRequest,
  type WakeRequest,
} from "../../api/node-agent.js";
import type { Logger } from "../../lib/log.js";
import { NodeAgentError, httpStatus, toNodeAgentError } from "./errors.js";

/** The work behind the routes (capture.ts, restore.ts and memory-capture.ts, bound to their deps). */
export interface AgentHandlers {
  capture(req: CaptureRequest): Promise<unknown>;
  restore(req: RestoreRequest): Promise<unknown>;
  restoreImage(req: RestoreImageRequest): Promise<unknown>;
  forgetImage(req: ForgetImageRequest): Promise<unknown>;
  wake(req: WakeRequest): Promise<unknown>;
}

const MAX_BODY = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY)
      throw new NodeAgentError("InvalidArgument", `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new NodeAgentError("InvalidArgument", "request body is not JSON", { cause: err });
  }
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new NodeAgentError("InvalidArgument", "request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** The string fields `names` of `body`, each required and non-empty. Pure. */
export function requireStrings<K extends string>(
  body: Record<string, unknown>,
  names: readonly K[],
): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of names) {
    const value = body[name];
    if (typeof value !== "string" || value === "")
      throw new NodeAgentError("InvalidArgument", `"${name}" is required (a non-empty string)`);
    out[name] = value;
  }
  return out;
}

/**
 * A capture request out of its JSON body: the required strings, and the Memory fields when the
 * mode asks for them (checked in depth by the Memory capture). Pure.
 */
export function parseCaptureRequest(body: Record<string, unknown>): CaptureRequest {
  const req: CaptureRequest = requireStrings(body, ["id", "containerID", "key"] as const);
  const mode = body.mode ?? "Filesystem";
  if (mode !== "Filesystem" && mode !== "Memory")
    throw new NodeAgentError(
      "InvalidArgument",
      `"mode" must be Filesystem or Memory, not ${JSON.stringify(mode)}`,
    );
  if (mode === "Filesystem") return req;
  req.mode = mode;
  const target = body.target;
  if (!target || typeof target !== "object" || Array.isArray(target))
    throw new NodeAgentError(
      "InvalidArgument",
      `mode Memory needs "target" (namespace, pod, container)`,
    );
  req.target = requireStrings(
    target as Record<string, unknown>,
    ["namespace", "pod", "container"] as const,
  ) satisfies PodContainerRef;
  Object.assign(req, requireStrings(body, ["image", "executorSocket"] as const));
  if (typeof body.rootfsImage === "string" && body.rootfsImage) req.rootfsImage = body.rootfsImage;
  return req;
}

function authorized(req: IncomingMessage, token: Buffer): boolean {
  const header = req.headers.authorization ?? "";
  const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
  return given.length === token.length && timingSafeEqual(given, token);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Starts the agent's server on `port` of `host`. */
export async function serveAgent(options: {
  host: string;
  port: number;
  token: string;
  handlers: AgentHandlers;
  log: Logger;
  /** PEM certificate and key: HTTPS only (the bearer token is never sent in the clear). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}): Promise<Server> {
  const token = Buffer.from(options.token);
  const running = new Map<string, Promise<unknown>>();

  function once(key: string, work: () => Promise<unknown>): Promise<unknown> {
    const existing = running.get(key);
    if (existing) return existing;
    const started = work().finally(() => running.delete(key));
    running.set(key, started);
    return started;
  }

  async function route(req: IncomingMessage): Promise<[number, unknown]> {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && path === NodeAgentPath.health) return [200, { ok: true }];
    if (!authorized(req, token))
      throw new NodeAgentError("Unauthorized", "a valid bearer token is required");
    if (req.method === "POST" && path === NodeAgentPath.capture) {
      const body = parseCaptureRequest(await readJson(req));
      return [200, await once(`capture:${body.id}`, () => options.handlers.capture(body))];
    }
    if (req.method === "POST" && path === NodeAgentPath.restoreImage) {
      const body = requireStrings(await readJson(req), [
        "id",
        "key",
        "sha256",
        "image",
        "container",
      ] as const);
      return [200, await once(`image:${body.id}`, () => options.handlers.restoreImage(body))];
    }
    if (req.method === "POST" && path === NodeAgentPath.forgetImage) {
      const body = requireStrings(await readJson(req), ["image"] as const);
      return [200, await once(`forget:${body.image}`, () => options.handlers.forgetImage(body))];
    }
    if (req.method === "POST" && path === NodeAgentPath.wake) {
      const body = requireStrings(await readJson(req), ["id", "containerID"] as const);
      return [200, await once(`wake:${body.id}`, () => options.handlers.wake(body))];
    }
    if (req.method === "POST" && path === NodeAgentPath.restore) {
      const body = requireStrings(await readJson(req), [
        "id",
        "containerID",
        "podUID",
        "volume",
        "key",
        "sha256",
      ] as const);
      return [200, await once(`restore:${body.id}`, () => options.handlers.restore(body))];
    }
    return [
      404,
      { code: "InvalidArgument", message: `no route ${req.method ?? "?"} ${path ?? ""}` },
    ];
  }

  const listener: RequestListener = (req, res) => {
    const started = Date.now();
    route(req).then(
      ([status, body]) => {
        send(res, status, body);
        if (req.url !== NodeAgentPath.health)
          options.log.info("call", {
            method: req.method,
            path: req.url,
            status,
            ms: Date.now() - started,
          });
      },
      (err: unknown) => {
        const e = toNodeAgentError(err, `${req.method ?? "?"} ${req.url ?? ""}`);
        const body: NodeAgentErrorBody = { code: e.code, message: e.message };
        send(res, httpStatus(e.code), body);
        options.log.warn("call failed", {
          method: req.method,
          path: req.url,
          code: e.code,
          error: e.message,
        });
      },
    );
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, listener)
    : createServer(listener);
  // Captures of large sandboxes take minutes: the server must not cut them off.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  return server;
}
