import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
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
export function writeHead(res: AnyResponse, status: number, headers: OutgoingHttpHeaders = {}): AnyResponse {
  (res as ServerResponse).writeHead(status, headers);
  return res;
}

/** Sends a JSON body. */
export function sendJson(res: AnyResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  writeHead(res, status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
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

/** Header carrying upload metadata from the sidecar to the executor (base64 JSON). */
export const INTERNAL_METADATA_HEADER = "x-soulbox-metadata";
