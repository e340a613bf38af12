import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { toHttpError } from "./error-mapping.js";

/** A Node request from either the HTTP/1.1 or the HTTP/2 compatibility API. */
export type AnyRequest = Parameters<NodeHandler>[0];
/** A Node response from either API. */
export type AnyResponse = Parameters<NodeHandler>[1];
type NodeHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/**
 * Writes the status line and headers. Both Node APIs accept (status, headers);
 * TypeScript cannot unify their overloads, hence the cast.
 */
export function writeHead(
  res: AnyResponse,
  status: number,
  headers: OutgoingHttpHeaders = {},
): AnyResponse {
  (res as ServerResponse).writeHead(status, headers);
  return res;
}

/** Sends a JSON body. */
export function sendJson(res: AnyResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  writeHead(res, status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Sends an error as E2B's `{code, message}` with the mapped status. */
export function sendError(res: AnyResponse, err: unknown): void {
  const { status, body } = toHttpError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}

/** Reads a small body (JSON endpoints), refusing more than `limit` bytes. */
export async function readSmallBody(req: AnyRequest, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error("body too large"), { tooLarge: true });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Trailer the sidecar sends after the last byte of an upload it received
 * whole; the executor commits an upload only when it is there, so a reset
 * stream can never look like a complete one.
 */
export const UPLOAD_COMPLETE_TRAILER = "x-soulbox-complete";

/** Header carrying upload metadata from the sidecar to the executor (base64 JSON). */
export const INTERNAL_METADATA_HEADER = "x-soulbox-metadata";

/**
 * The request body, failing with an error (instead of ending) when the client
 * goes away or resets the stream before sending all of it, so a cut-off upload
 * is never taken for a whole one.
 */
export function completeBody(req: AnyRequest, requiredTrailer?: string): Readable {
  const out = new PassThrough();
  // The consumer may attach late (after async checks); the error stays on
  // `out.errored` for it, but must not crash the process in the meantime.
  out.on("error", () => undefined);
  let aborted = false;
  const cut = () => {
    aborted = true;
    out.destroy(new Error("the client went away before the body was complete"));
  };
  (req as Readable).pipe(out, { end: false });
  req.on("aborted", cut);
  req.on("end", () => {
    // Node's HTTP/2 compatibility layer ends a reset stream's body first and
    // reports the reset ('aborted', rstCode) just after: decide a tick later.
    setImmediate(() => {
      const rst = "stream" in req ? req.stream.rstCode : undefined;
      const missingTrailer = requiredTrailer !== undefined && !req.trailers[requiredTrailer];
      if (aborted || missingTrailer || !req.complete || (rst !== undefined && rst !== 0)) cut();
      else out.end();
    });
  });
  req.on("close", () => {
    if (!req.complete || ("stream" in req && req.stream.rstCode)) cut();
  });
  req.on("error", (err: Error) => out.destroy(err));
  if (req.aborted || ("stream" in req && req.stream.rstCode)) cut();
  return out;
}
