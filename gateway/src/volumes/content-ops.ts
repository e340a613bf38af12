/**
 * Volume content operations against a content sandbox's envd, as root: the helper program through
 * `process.Process/Start` for everything but bytes, and envd's `/files` for the bytes (streamed both
 * ways). Errors become E2B's statuses: a missing path 404, an existing one 409.
 */
import { posix } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Process } from "../../../api/gen/envd/process/process_pb.js";
import { ApiError, badRequest } from "../api/errors.js";
import { CONTENT_HELPER } from "./content-helper.js";
import { CONTENT_MOUNT } from "./content-sandbox.js";

/** E2B's `VolumeEntryStat`. */
export interface VolumeEntryStat {
  name: string;
  type: "unknown" | "file" | "directory" | "symlink";
  path: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  atime: string;
  mtime: string;
  ctime: string;
  target?: string;
}

/** A helper request. */
export interface HelperRequest {
  op: "stat" | "list" | "mkdir" | "remove" | "meta" | "prewrite";
  path: string;
  depth?: number;
  force?: boolean;
  uid?: number;
  gid?: number;
  mode?: number;
}

/** Where a content call goes: the sandbox's envd and its token. */
export interface ContentTarget {
  sandbox: Sandbox;
  token: string;
}

/** Runs as root: a volume's files belong to whoever the request says (uid/gid), root by default. */
const ROOT_USER = `Basic ${Buffer.from("root:").toString("base64")}`;
const HELPER_TIMEOUT_MS = 30_000;

/**
 * A volume path as the volume sees it: absolute, without `.`, `..`, repeated or trailing slashes
 * (`..` never leaves the volume's root). 400 when absent. Pure.
 */
export function volumePath(raw: unknown): string {
  if (typeof raw !== "string" || raw === "")
    throw badRequest("the path query parameter is required");
  const p = posix.normalize(`/${raw}`);
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/** The helper's error code as E2B's status and message for `path`. Pure. */
export function contentError(code: string, path: string, message: string): ApiError {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new ApiError(404, `Path ${path} not found`);
    case "EEXIST":
      return new ApiError(409, `Path ${path} already exists`);
    case "EISDIR":
      return new ApiError(409, `Path ${path} is a directory`);
    case "EACCES":
    case "EPERM":
      return new ApiError(403, `Path ${path}: permission denied`);
    case "EINVAL":
    case "ERR_INVALID_ARG_TYPE":
    case "ERR_OUT_OF_RANGE":
      return badRequest(`Path ${path}: ${message}`);
    case "ENOSPC":
    case "EDQUOT":
      return new ApiError(507, `the volume is full (${path})`);
    default:
      return new ApiError(500, `volume operation on ${path} failed: ${code} ${message}`);
  }
}

const endpointOf = (t: ContentTarget) => {
  const e = t.sandbox.status?.envdEndpoint;
  if (!e) throw new ApiError(503, "the volume content sandbox has no envd endpoint yet");
  return e;
};

/** Runs the helper for `req`; its result, or the mapped error. */
export async function runHelper<T>(t: ContentTarget, req: HelperRequest): Promise<T> {
  const client = createClient(
    Process,
    createConnectTransport({
      baseUrl: endpointOf(t),
      httpVersion: "1.1",
      interceptors: [
        (next) => (r) => {
          r.header.set("X-Access-Token", t.token);
          r.header.set("Authorization", ROOT_USER);
          return next(r);
        },
      ],
    }),
  );
  let stdout = "";
  let stderr = "";
  let exit: number | undefined;
  try {
    for await (const res of client.start(
      { process: { cmd: "node", args: ["-e", CONTENT_HELPER, JSON.stringify(req)] } },
      { signal: AbortSignal.timeout(HELPER_TIMEOUT_MS) },
    )) {
      const ev = res.event?.event;
      if (ev?.case === "data" && ev.value.output.case === "stdout")
        stdout += Buffer.from(ev.value.output.value).toString();
      if (ev?.case === "data" && ev.value.output.case === "stderr")
        stderr += Buffer.from(ev.value.output.value).toString();
      if (ev?.case === "end") exit = ev.value.exitCode;
    }
  } catch (err) {
    throw new ApiError(502, "the volume content sandbox did not answer", { cause: err });
  }
  let out: { ok: boolean; result?: unknown; code?: string; message?: string };
  try {
    out = JSON.parse(stdout) as typeof out;
  } catch (err) {
    throw new ApiError(
      502,
      `the volume content helper failed (exit ${exit ?? "?"}): ${stderr.slice(0, 300)}`,
      { cause: err },
    );
  }
  if (!out.ok) throw contentError(out.code ?? "EIO", req.path, out.message ?? "");
  return out.result as T;
}

const filesUrl = (t: ContentTarget, path: string) =>
  `${endpointOf(t)}/files?${new URLSearchParams({ path: posix.join(CONTENT_MOUNT, path), username: "root" }).toString()}`;

/** The file's bytes as a stream (404 when it is not a file). */
export async function readFileStream(
  t: ContentTarget,
  path: string,
): Promise<{ body: Readable; size?: number }> {
  const st = await runHelper<VolumeEntryStat>(t, { op: "stat", path });
  if (st.type !== "file") throw contentError("ENOENT", path, "");
  let res: Response;
  try {
    res = await fetch(filesUrl(t, path), { headers: { "x-access-token": t.token } });
  } catch (err) {
    throw new ApiError(502, "the volume content sandbox did not answer", { cause: err });
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => "");
    throw res.status === 404
      ? contentError("ENOENT", path, "")
      : new ApiError(
          502,
          `reading ${path} failed: envd answered ${res.status} ${text.slice(0, 200)}`,
        );
  }
  const length = res.headers.get("content-length");
  return {
    body: Readable.fromWeb(res.body as WebReadableStream),
    ...(length ? { size: Number(length) } : {}),
  };
}

/** Writes `body` to `path` (streamed), after E2B's checks; then ownership and mode; its stat. */
export async function writeFile(
  t: ContentTarget,
  req: Omit<HelperRequest, "op">,
  body: Readable,
): Promise<VolumeEntryStat> {
  await runHelper(t, { ...req, op: "prewrite" });
  let res: Response;
  try {
    res = await fetch(filesUrl(t, req.path), {
      method: "POST",
      headers: { "x-access-token": t.token, "content-type": "application/octet-stream" },
      body: Readable.toWeb(body) as unknown as RequestInit["body"],
      duplex: "half",
    } as RequestInit);
  } catch (err) {
    throw new ApiError(502, "the volume content sandbox did not answer", { cause: err });
  }
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    throw new ApiError(
      res.status === 507 ? 507 : 502,
      `writing ${req.path} failed: envd answered ${res.status} ${text.slice(0, 200)}`,
    );
  }
  await res.body?.cancel();
  return runHelper<VolumeEntryStat>(t, { ...req, op: "meta" });
}
