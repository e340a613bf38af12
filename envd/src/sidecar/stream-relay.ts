import type { OutgoingHttpHeaders } from "node:http";
import type { IncomingHttpHeaders } from "node:http2";
import type { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import { parseBasicUser } from "../shared/basic-auth.js";
import { toConnectError } from "../shared/error-mapping.js";
import { writeHead, type AnyRequest, type AnyResponse } from "../shared/http-util.js";
import type { AuditLog } from "./audit.js";
import { requireToken, type TokenStore } from "./auth.js";
import type { ExecutorLink } from "./executor-link.js";
import { grpcPercentEncode } from "./grpc-message.js";

/** Request headers the executor sees on a relayed stream: the protocol's own, the user, keepalives. */
const FORWARDED_REQUEST_HEADERS = [
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "te",
  "authorization",
  "keepalive-ping-interval",
];

/** Response headers that belong to one hop, never relayed. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "date"]);

/** Connect streaming (+proto or +json) or gRPC (+proto or +json); gRPC-Web is not relayed. */
const RELAYED_TYPE = /^application\/(connect\+(proto|json)|grpc(\+(proto|json))?)\s*(;|$)/i;

/** The Connect end-of-stream flag of an envelope; 0x01 is "compressed". */
const END_STREAM_FLAG = 0x02;
const COMPRESSED_FLAG = 0x01;

/**
 * Relays server-streaming RPCs (Process.Start, Process.Connect,
 * Filesystem.WatchDir) to the executor as bytes. The client's own protocol
 * (Connect or gRPC, proto or JSON, its compression) goes to the executor's
 * RPC server unchanged, and the response comes back unchanged: each message
 * crosses the sidecar without being decoded and encoded again, which was most
 * of the sidecar's work for a process printing a lot.
 *
 * What stays here: the access token is checked first, and one audit line is
 * written per call when it ends, with the status the executor ended it with
 * (read from the gRPC trailers or Connect's end-of-stream message). Requests
 * this does not take (no or a wrong token, another protocol, gRPC over
 * HTTP/1.1) go to the stock Connect handler, which answers them as before.
 *
 * Returns a function that says synchronously whether it took the request.
 */
export function createStreamRelay(deps: {
  services: DescService[];
  tokens: TokenStore;
  executor: ExecutorLink;
  audit: AuditLog;
}): (req: AnyRequest, res: AnyResponse) => boolean {
  const paths = new Set<string>();
  for (const service of deps.services)
    for (const method of service.methods)
      if (method.methodKind === "server_streaming")
        paths.add(`/${service.typeName}/${method.name}`);

  return (req, res) => {
    if (req.method !== "POST" || !paths.has(req.url ?? "")) return false;
    const type = RELAYED_TYPE.exec(header(req, "content-type") ?? "");
    if (!type) return false;
    const grpc = (type[1] ?? "").startsWith("grpc");
    if (grpc && req.httpVersionMajor !== 2) return false;
    let user: string | undefined;
    try {
      requireToken(deps.tokens, header(req, "x-access-token"));
      user = parseBasicUser(header(req, "authorization") ?? null);
    } catch {
      return false;
    }
    const started = performance.now();
    const op = (req.url ?? "").slice(1);
    const record = (status: string) =>
      deps.audit.write({
        kind: "rpc",
        op,
        user,
        status,
        durationMs: Math.round(performance.now() - started),
      });
    void relay(deps.executor, req, res, grpc).then(record, (err: unknown) =>
      record(Code[toConnectError(err).code]),
    );
    return true;
  };
}

/** Relays one call; resolves with its audit status (`OK` or a code's name). */
async function relay(
  executor: ExecutorLink,
  req: AnyRequest,
  res: AnyResponse,
  grpc: boolean,
): Promise<string> {
  const headers: OutgoingHttpHeaders = { ":method": "POST", ":path": req.url };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  let upstream;
  try {
    upstream = await executor.request(headers, req as Readable, { uploadTrailer: false });
  } catch (err) {
    const e = toConnectError(err);
    sendStreamError(res, grpc, header(req, "content-type") ?? "", e);
    return Code[e.code];
  }
  const { stream } = upstream;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (name.startsWith(":") || HOP_HEADERS.has(name) || value === undefined) continue;
    out[name] =
      name === "grpc-message" && typeof value === "string" ? grpcPercentEncode(value) : value;
  }
  // The client leaving ends the executor's stream too (the process lives on, as before).
  res.once("close", () => {
    if (!stream.closed) stream.close();
  });
  writeHead(res, upstream.status, out);

  if (grpc) {
    let trailers: IncomingHttpHeaders = {};
    stream.once("trailers", (t: IncomingHttpHeaders) => (trailers = t));
    const ended = await pipeBody(stream, res);
    if (!ended) return "Canceled";
    const status = trailers["grpc-status"] ?? upstream.headers["grpc-status"];
    if (ended === "error" || status === undefined) {
      const e =
        ended === "error"
          ? linkBroken()
          : new ConnectError("the executor ended the stream without a status", Code.Internal);
      endGrpc(res, e.code, e.rawMessage);
      return Code[e.code];
    }
    const relayed: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(trailers)) {
      if (name.startsWith(":") || value === undefined) continue;
      relayed[name] =
        name === "grpc-message" && typeof value === "string" ? grpcPercentEncode(value) : value;
    }
    if (Object.keys(relayed).length > 0)
      (res as { addTrailers(h: OutgoingHttpHeaders): void }).addTrailers(relayed);
    res.end();
    return grpcStatusName(String(status));
  }

  const scanner = createEndStreamScanner();
  stream.on("data", (chunk: Buffer) => scanner.push(chunk));
  const ended = await pipeBody(stream, res);
  const end = scanner.endStream();
  // A client may hang up as soon as it read the end-of-stream message: that call still ended as the executor said.
  if (!ended && !end) return "Canceled";
  if (ended === "error" || !end) {
    // The link broke mid-stream: end the client's stream with an error it can read.
    const e = linkBroken();
    if (!res.writableEnded) res.end(endStreamEnvelope(e));
    return Code[e.code];
  }
  if (!res.writableEnded && !res.destroyed) res.end();
  return endStreamStatus(end, header(res, "connect-content-encoding"));
}

/** The audit status of a grpc-status value: `OK` or the code's name. */
export function grpcStatusName(status: string): string {
  const code = Number(status);
  if (code === 0) return "OK";
  return (Number.isInteger(code) && Code[code]) || "Unknown";
}

function linkBroken(): ConnectError {
  return new ConnectError("the sandbox executor closed the stream", Code.Unavailable);
}

/**
 * Copies the executor's body to the client without ending the client's
 * response. Resolves "end" when the executor ended its stream, "error" when
 * the link failed, or undefined when the client went away first.
 */
function pipeBody(
  stream: NodeJS.ReadableStream & { destroyed: boolean },
  res: AnyResponse,
): Promise<"end" | "error" | undefined> {
  return new Promise((resolve) => {
    stream.pipe(res as NodeJS.WritableStream, { end: false });
    stream.once("end", () => resolve("end"));
    stream.once("error", () => resolve("error"));
    res.once("close", () => {
      if (!res.writableEnded) resolve(undefined);
    });
  });
}

/** An error answer in the client's streaming protocol, before any message went out. */
function sendStreamError(res: AnyResponse, grpc: boolean, contentType: string, e: ConnectError) {
  if (grpc) {
    writeHead(res, 200, {
      "content-type": contentType,
      "grpc-status": String(e.code),
      "grpc-message": grpcPercentEncode(encodeURIComponent(e.rawMessage)),
    });
    res.end();
    return;
  }
  writeHead(res, 200, { "content-type": contentType });
  res.end(endStreamEnvelope(e));
}

/** Ends a gRPC response whose headers went out with an error status in the trailers. */
function endGrpc(res: AnyResponse, code: Code, message: string) {
  (res as { addTrailers(h: OutgoingHttpHeaders): void }).addTrailers({
    "grpc-status": String(code),
    "grpc-message": grpcPercentEncode(encodeURIComponent(message)),
  });
  res.end();
}

/** Connect's end-of-stream message carrying `e`, uncompressed. */
export function endStreamEnvelope(e: ConnectError): Buffer {
  const json = Buffer.from(
    JSON.stringify({ error: { code: codeToString(e.code), message: e.rawMessage } }),
  );
  const head = Buffer.alloc(5);
  head.writeUInt8(END_STREAM_FLAG, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

/** The audit status of a Connect end-of-stream message: `OK` or the error code's name. */
export function endStreamStatus(
  end: { flags: number; data: Buffer },
  encoding: string | undefined,
): string {
  try {
    let data = end.data;
    if (end.flags & COMPRESSED_FLAG)
      data = encoding === "br" ? brotliDecompressSync(data) : gunzipSync(data);
    const parsed = JSON.parse(data.toString("utf8") || "{}") as { error?: { code?: string } };
    if (!parsed.error) return "OK";
    const code = codeFromString(parsed.error.code ?? "");
    return code === undefined ? "Unknown" : Code[code];
  } catch {
    return "Unknown";
  }
}

/**
 * Follows Connect envelopes (flags, 4-byte length, payload) across chunks
 * without copying the payloads, and keeps only the end-of-stream message.
 */
export function createEndStreamScanner() {
  const head = Buffer.alloc(5);
  let headFill = 0;
  let remaining = 0;
  let flags = 0;
  let endParts: Buffer[] | undefined;
  let end: { flags: number; data: Buffer } | undefined;
  const finishEnvelope = () => {
    if (endParts) end = { flags, data: Buffer.concat(endParts) };
    endParts = undefined;
  };
  return {
    push(chunk: Buffer) {
      let at = 0;
      while (at < chunk.length) {
        if (headFill < 5) {
          const n = Math.min(5 - headFill, chunk.length - at);
          chunk.copy(head, headFill, at, at + n);
          headFill += n;
          at += n;
          if (headFill < 5) return;
          flags = head.readUInt8(0);
          remaining = head.readUInt32BE(1);
          endParts = flags & END_STREAM_FLAG ? [] : undefined;
          if (remaining === 0) {
            finishEnvelope();
            headFill = 0;
          }
          continue;
        }
        const n = Math.min(remaining, chunk.length - at);
        endParts?.push(chunk.subarray(at, at + n));
        remaining -= n;
        at += n;
        if (remaining === 0) {
          finishEnvelope();
          headFill = 0;
        }
      }
    },
    /** The end-of-stream message, once it arrived whole. */
    endStream: () => end,
  };
}

function header(msg: AnyRequest | AnyResponse, name: string): string | undefined {
  const v = "getHeader" in msg ? msg.getHeader(name) : msg.headers[name];
  return Array.isArray(v) ? v[0] : v === undefined ? undefined : String(v);
}
