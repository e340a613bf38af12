import { PassThrough, Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import busboy from "busboy";
import { EnvdError } from "../shared/errors.js";
import {
  INTERNAL_METADATA_HEADER,
  completeBody,
  readSmallBody,
  sendError,
  sendJson,
  type AnyRequest,
  type AnyResponse,
  writeHead,
} from "../shared/http-util.js";
import { authorizeFileAccess, type TokenStore } from "./auth.js";
import type { ExecutorLink } from "./executor-link.js";
import type { NonceCache } from "./nonce-cache.js";

/** Everything the `/files` route needs. */
export interface FilesDeps {
  tokens: TokenStore;
  nonces: NonceCache;
  executor: ExecutorLink;
}

function query(url: URL, operation: "read" | "write") {
  const path = url.searchParams.get("path") ?? "";
  const user = url.searchParams.get("username") ?? "";
  return {
    path,
    user,
    operation,
    signature: url.searchParams.get("signature"),
    expiration: url.searchParams.get("signature_expiration"),
    nonce: url.searchParams.get("signature_nonce"),
  };
}

function executorPath(path: string, user: string): string {
  const q = new URLSearchParams();
  if (path) q.set("path", path);
  if (user) q.set("username", user);
  return `/files?${q.toString()}`;
}

/** Reads `X-Metadata-<key>` headers, keeping the key's case as the client sent it. */
export function metadataFromHeaders(rawHeaders: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? "";
    if (name.toLowerCase().startsWith("x-metadata-") && name.length > "x-metadata-".length) {
      out[name.slice("x-metadata-".length)] = rawHeaders[i + 1] ?? "";
    }
  }
  return out;
}

/** GET /files: streams a file out of the sandbox, gzip-encoded when the client accepts it. */
export async function downloadFile(deps: FilesDeps, url: URL, req: AnyRequest, res: AnyResponse) {
  const q = query(url, "read");
  authorizeFileAccess(deps.tokens, header(req, "x-access-token"), q, deps.nonces);
  const upstream = await deps.executor.request({
    ":method": "GET",
    ":path": executorPath(q.path, q.user),
  });
  if (upstream.status !== 200) return relayError(upstream.stream, upstream.status, res);
  const gzip = /\bgzip\b/.test(header(req, "accept-encoding") ?? "");
  const headers: Record<string, string | number> = { "content-type": "application/octet-stream" };
  const name = q.path.split("/").pop();
  if (name)
    headers["content-disposition"] = `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
  if (gzip) headers["content-encoding"] = "gzip";
  else if (upstream.headers["content-length"])
    headers["content-length"] = String(upstream.headers["content-length"]);
  writeHead(res, 200, headers);
  const body: Readable = gzip ? upstream.stream.pipe(createGzip()) : upstream.stream;
  body.pipe(res as NodeJS.WritableStream);
  res.on("close", () => upstream.stream.destroy());
}

/** POST /files: multipart (field `file`, possibly several) or a raw octet stream, optionally gzip. */
export async function uploadFile(deps: FilesDeps, url: URL, req: AnyRequest, res: AnyResponse) {
  const q = query(url, "write");
  authorizeFileAccess(deps.tokens, header(req, "x-access-token"), q, deps.nonces);
  const metadata = metadataFromHeaders(req.rawHeaders);
  const contentType = header(req, "content-type") ?? "";
  const gzip = /\bgzip\b/i.test(header(req, "content-encoding") ?? "");
  const multipart = contentType.startsWith("multipart/form-data");
  if (!multipart && !q.path)
    throw new EnvdError(
      "invalid_argument",
      "the path query parameter is required for octet-stream uploads",
    );
  // Content-Encoding is the whole body's (as E2B's envd reads it): a gzip multipart body is
  // unzipped before its parts are parsed.
  const complete = completeBody(req);
  const body: Readable = gzip ? complete.pipe(createGunzip()) : complete;
  if (gzip) complete.on("error", (err) => body.destroy(err));
  if (multipart) {
    const results = await uploadMultipart(deps, req, body, q.path, q.user, metadata);
    return sendJson(res, 200, results);
  }
  const result = await sendToExecutor(deps, q.path, q.user, metadata, body);
  sendJson(res, 200, result);
}

async function sendToExecutor(
  deps: FilesDeps,
  path: string,
  user: string,
  metadata: Record<string, string>,
  body: Readable,
): Promise<unknown[]> {
  const headers: Record<string, string> = { ":method": "POST", ":path": executorPath(path, user) };
  if (Object.keys(metadata).length > 0)
    headers[INTERNAL_METADATA_HEADER] = Buffer.from(JSON.stringify(metadata)).toString("base64");
  // A body that fails (bad gzip, client gone) must abort the executor's write, never complete it.
  let bodyError: Error | undefined;
  const relay = new PassThrough();
  relay.on("error", () => undefined); // reported through bodyError below
  body.on("error", (err: Error) => {
    bodyError = err;
    relay.destroy(err);
  });
  body.pipe(relay);
  const unreadable = () =>
    new EnvdError("invalid_argument", `upload body could not be read: ${bodyError?.message}`);
  let upstream;
  try {
    upstream = await deps.executor.request(headers, relay);
  } catch (err) {
    throw bodyError ? unreadable() : err;
  }
  const text = await readAll(upstream.stream).catch((err: unknown) => {
    throw bodyError ? unreadable() : err;
  });
  if (bodyError) throw unreadable();
  const parsed = JSON.parse(text || "null") as unknown;
  if (upstream.status !== 200) {
    const message =
      (parsed as { message?: string } | null)?.message ?? `executor answered ${upstream.status}`;
    throw new EnvdError(statusKind(upstream.status), message);
  }
  return parsed as unknown[];
}

/** The largest `file` sent as a plain form field (no filename): busboy holds it in memory. */
const PLAIN_FILE_FIELD_LIMIT = 16 << 20;

/**
 * The parts of a multipart upload, in order: every part named `file` is a file, with a filename
 * or, like E2B's envd takes it, as a plain field (`form.append('file', 'text')`); both go to the
 * URL's `path` when it is given, else to the part's filename.
 */
function uploadMultipart(
  deps: FilesDeps,
  req: AnyRequest,
  source: Readable,
  path: string,
  user: string,
  metadata: Record<string, string>,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers as Record<string, string>,
        preservePath: true,
        limits: { fieldSize: PLAIN_FILE_FIELD_LIMIT },
      });
    } catch (err) {
      return reject(
        new EnvdError("invalid_argument", `malformed multipart body: ${String(err)}`, {
          cause: err,
        }),
      );
    }
    const results: unknown[] = [];
    let chain = Promise.resolve();
    let files = 0;
    const write = (target: string | undefined, body: Readable) => {
      files++;
      // Files are written one after another; busboy waits while a part is not consumed.
      chain = chain.then(async () => {
        if (!target)
          throw new EnvdError(
            "invalid_argument",
            "no path: give the path query parameter or a file name",
          );
        results.push(...(await sendToExecutor(deps, target, user, metadata, body)));
      });
      chain.catch(() => body.resume());
    };
    parser.on("file", (field, stream, info) => {
      if (field !== "file") return stream.resume();
      write(path || info.filename, stream);
    });
    parser.on("field", (field, value, info) => {
      if (field !== "file") return;
      if (info.valueTruncated) {
        files++;
        chain = chain.then(() => {
          throw new EnvdError(
            "invalid_argument",
            `the form field 'file' is over ${PLAIN_FILE_FIELD_LIMIT >> 20} MiB: send it as a file part (with a filename)`,
          );
        });
        return;
      }
      write(path || undefined, Readable.from([Buffer.from(value)]));
    });
    parser.on("error", (err) =>
      reject(
        new EnvdError("invalid_argument", `malformed multipart body: ${String(err)}`, {
          cause: err,
        }),
      ),
    );
    parser.on("close", () => {
      chain
        .then(() =>
          files === 0
            ? reject(new EnvdError("invalid_argument", "the multipart body has no 'file' field"))
            : resolve(results),
        )
        .catch(reject);
    });
    source.on("error", (err) => parser.destroy(err));
    source.pipe(parser);
  });
}

/**
 * POST /files/compose: concatenates uploaded parts into one file (E2B's chunked upload). The
 * JSON body goes to the executor, which does the work as the user; its answer comes back as is.
 */
export async function composeParts(deps: FilesDeps, req: AnyRequest, res: AnyResponse) {
  const body = await readSmallBody(req);
  const upstream = await deps.executor.request(
    { ":method": "POST", ":path": "/files/compose", "content-type": "application/json" },
    Readable.from([body]),
  );
  const text = await readAll(upstream.stream);
  if (upstream.status !== 200) return relayErrorText(text, upstream.status, res);
  sendJson(res, 200, JSON.parse(text));
}

function statusKind(status: number) {
  const kinds: Record<number, EnvdError["kind"]> = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists",
    412: "failed_precondition",
    507: "no_space",
  };
  return kinds[status] ?? "internal";
}

async function relayError(stream: Readable, status: number, res: AnyResponse) {
  relayErrorText(await readAll(stream), status, res);
}

function relayErrorText(text: string, status: number, res: AnyResponse) {
  try {
    sendJson(res, status, JSON.parse(text));
  } catch {
    sendError(res, new EnvdError(statusKind(status), text || `executor answered ${status}`));
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

function header(req: AnyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export { header as requestHeader, relayError, readAll, statusKind };
