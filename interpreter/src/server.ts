import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../../lib/log.js";
import { ContextNotFoundError, type Contexts } from "./contexts.js";
import {
  BadRequestError,
  parseCreateContextRequest,
  parseExecuteRequest,
  type OutputLine,
} from "./protocol.js";
import {
  DEFAULT_LANGUAGE,
  RUNTIMES,
  UnknownLanguageError,
  detectRuntime,
} from "./runtimes/index.js";
import type { OutputSink } from "./runtimes/types.js";

/** Request bodies are small JSON (code and env vars); anything bigger is refused. */
const MAX_BODY = 16 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `the request body is over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body is not JSON");
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const status =
    err instanceof HttpError
      ? err.status
      : err instanceof BadRequestError || err instanceof UnknownLanguageError
        ? 400
        : err instanceof ContextNotFoundError
          ? 404
          : 500;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 500) log.error("request failed", { err: message });
  if (res.headersSent) return void res.destroy();
  // The JS SDK shows only "<status> <statusText>" for most errors: the reason phrase carries
  // the message too (one line, printable ASCII, as HTTP/1.1 allows).
  res.statusMessage = message.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(message);
}

/**
 * A sink writing JSON lines to an HTTP response: `write` reports the socket's back-pressure,
 * `drained` resolves on the response's next drain (or when it closes).
 */
function responseSink(res: ServerResponse): OutputSink {
  return {
    write: (line: OutputLine) =>
      res.writableEnded || res.destroyed ? true : res.write(`${JSON.stringify(line)}\n`),
    drained: () =>
      new Promise<void>((resolve) => {
        if (res.destroyed || !res.writableNeedDrain) return resolve();
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      }),
  };
}

/**
 * The code-interpreter HTTP API on top of the contexts: GET /health, POST /execute (JSON lines),
 * /contexts (POST create, GET list), POST /contexts/:id/restart, DELETE /contexts/:id, and
 * GET /runtimes (SoulBox's own: every runtime with its languages and features).
 */
export function createInterpreterServer(contexts: Contexts, log: Logger): Server {
  return createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => sendError(res, err, log));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (path === "/health" && method === "GET") return send(res, 200, "OK");
    if (path === "/runtimes" && method === "GET")
      return send(
        res,
        200,
        RUNTIMES.map((r) => ({
          name: r.name,
          languages: r.languages,
          extensions: r.extensions,
          features: r.features,
        })),
      );
    if (path === "/execute" && method === "POST") return execute(req, res);
    if (path === "/contexts" && method === "POST") {
      const body = parseCreateContextRequest(await readJson(req));
      return send(res, 200, await contexts.create(body.language, body.cwd));
    }
    if (path === "/contexts" && method === "GET") return send(res, 200, contexts.list());
    const m = /^\/contexts\/([^/]+)(\/restart)?$/.exec(path);
    if (m?.[1] && m[2] && method === "POST") {
      await contexts.restart(decodeURIComponent(m[1]));
      return send(res, 200, null);
    }
    if (m?.[1] && !m[2] && method === "DELETE") {
      await contexts.remove(decodeURIComponent(m[1]));
      return send(res, 200, null);
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  }

  async function execute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseExecuteRequest(await readJson(req));
    let contextId = body.contextId;
    if (contextId) contexts.has(contextId);
    else {
      // No language: a shebang may say which runtime; otherwise Python, as E2B does.
      const language =
        body.language ?? detectRuntime({ code: body.code })?.languages[0] ?? DEFAULT_LANGUAGE;
      try {
        contextId = (await contexts.defaultFor(language)).id;
      } catch (err) {
        if (!(err instanceof UnknownLanguageError)) throw err;
        // As an execution error, not a 400: the SDKs surface an error line's name and value
        // (`execution.error`), but only "400 Bad Request" of a status their proxy may rewrite.
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.write(
          `${JSON.stringify({ type: "error", name: err.name, value: err.message, traceback: "" })}\n`,
        );
        res.end(`${JSON.stringify({ type: "end_of_execution" })}\n`);
        return;
      }
    }
    const abort = new AbortController();
    // The client going away (an SDK timeout aborts its fetch) interrupts the cell.
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    res.flushHeaders();
    const sink = responseSink(res);
    await contexts.run(contextId, body.code, body.envVars, sink, abort.signal);
    sink.write({ type: "end_of_execution" });
    res.end();
  }
}
