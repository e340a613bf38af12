/**
 * The front door's own answers, in the E2B error shape `{code, message}` that the SDK reads (a 502
 * on envd's `/health` is its "not running").
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";

/** A server response of either protocol (the HTTP/2 compatibility API has the same surface). */
export type AnyServerResponse = ServerResponse | Http2ServerResponse;

/** The JSON body of every error the front door itself answers. */
export function errorBody(code: number, message: string, sandboxId?: string): string {
  // E2B's not-found answer names the sandbox: {sandboxId, message, code}.
  return JSON.stringify(sandboxId === undefined ? { code, message } : { sandboxId, message, code });
}

/**
 * Answers `code` with the JSON error body, unless a response is already under way (then the
 * stream is cut instead: a half-sent body must not look complete).
 */
export function sendError(
  res: AnyServerResponse,
  code: number,
  message: string,
  sandboxId?: string,
): void {
  if (res.headersSent) {
    destroyResponse(res);
    return;
  }
  const body = errorBody(code, message, sandboxId);
  writeHead(res, code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** `writeHead` on a response of either protocol (their overloads do not unify). */
export function writeHead(
  res: AnyServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
): void {
  if ("stream" in res) res.writeHead(status, headers);
  else res.writeHead(status, headers);
}

/** Cuts a response mid-way: resets the HTTP/2 stream, or closes the HTTP/1.1 connection. */
export function destroyResponse(res: AnyServerResponse): void {
  if ("stream" in res) res.stream.close(0x2 /* INTERNAL_ERROR */);
  else res.destroy();
}

/** Answers on a raw socket (an upgrade request that never reached an upstream) and closes it. */
export function sendErrorOnSocket(
  socket: Duplex,
  code: number,
  message: string,
  sandboxId?: string,
): void {
  const body = errorBody(code, message, sandboxId);
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ""}\r\n` +
      "content-type: application/json\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      "connection: close\r\n\r\n" +
      body,
  );
}
