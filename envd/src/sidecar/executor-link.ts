import { connect as netConnect } from "node:net";
import {
  constants as http2Constants,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { createClient, type Client } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createGrpcTransport,
  createNodeHttpClient,
} from "@connectrpc/connect-node";
import { Filesystem } from "../../../api/gen/envd/filesystem/filesystem_pb.js";
import { Process } from "../../../api/gen/envd/process/process_pb.js";
import { Runtime } from "../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { EnvdError } from "../shared/errors.js";
import { UPLOAD_COMPLETE_TRAILER } from "../shared/http-util.js";
import { createLinkTransport } from "./link-transport.js";

/** The sidecar's connection to the executor: RPC clients and raw HTTP/2 requests. */
export interface ExecutorLink {
  process: Client<typeof Process>;
  filesystem: Client<typeof Filesystem>;
  /** SoulBox's own runtime service (one-shot code runs). */
  runtime: Client<typeof Runtime>;
  /**
   * Opens a raw request; resolves once the response headers arrived. A body
   * that ends normally is followed by the upload-complete trailer, unless
   * `uploadTrailer` is false (RPC bodies, which the executor's RPC server reads).
   */
  request(
    headers: OutgoingHttpHeaders,
    body?: NodeJS.ReadableStream,
    opts?: { uploadTrailer?: boolean },
  ): Promise<{ stream: ClientHttp2Stream; headers: IncomingHttpHeaders; status: number }>;
  close(): void;
}

/** One multiplexed HTTP/2 session over the executor's unix socket, re-dialled when it drops. */
export function createExecutorLink(socketPath: string): ExecutorLink {
  const sessions = new WideWindowSessionManager(
    "http://executor",
    { pingIntervalMs: 30_000, idleConnectionTimeoutMs: 15 * 60_000 },
    {
      createConnection: () => netConnect(socketPath),
      settings: { maxConcurrentStreams: 10_000, initialWindowSize: LINK_STREAM_WINDOW },
    },
  );
  // gRPC on the inside link: binary, no JSON round trip, and no per-request timeout of its own.
  // Uncompressed: on a unix socket gzip only costs CPU (the executor gzips whatever the client accepts).
  // Streams bypass connect's runStreamingCall, which retains every streamed message (see link-transport.ts).
  const transport = createLinkTransport({
    baseUrl: "http://executor",
    httpClient: createNodeHttpClient({ httpVersion: "2", sessionProvider: () => sessions }),
    unary: createGrpcTransport({
      baseUrl: "http://executor",
      sessionManager: sessions,
      acceptCompression: [],
    }),
  });
  return {
    process: createClient(Process, transport),
    filesystem: createClient(Filesystem, transport),
    runtime: createClient(Runtime, transport),
    async request(headers, body, opts) {
      const trailer = body !== undefined && opts?.uploadTrailer !== false;
      let stream: ClientHttp2Stream;
      try {
        stream = await sessions.request(
          String(headers[":method"] ?? "GET"),
          String(headers[":path"]),
          headers,
          {
            endStream: body === undefined,
            waitForTrailers: trailer,
          },
        );
      } catch (err) {
        throw new EnvdError("unavailable", "the sandbox executor is not reachable", { cause: err });
      }
      if (body) {
        // A failing body cancels the request, so the executor discards what it got.
        body.once("error", () => stream.close(http2Constants.NGHTTP2_CANCEL));
        // Only a body that ended normally gets the trailer that lets the executor commit it.
        if (trailer)
          stream.once("wantTrailers", () =>
            stream.sendTrailers({ [UPLOAD_COMPLETE_TRAILER]: "1" }),
          );
        body.pipe(stream);
      }
      return new Promise((resolve, reject) => {
        stream.once("response", (h) =>
          resolve({ stream, headers: h, status: Number(h[":status"]) }),
        );
        stream.once("error", (err) =>
          reject(
            new EnvdError("unavailable", `executor request failed: ${err.message}`, { cause: err }),
          ),
        );
        stream.once("close", () =>
          reject(new EnvdError("unavailable", "the executor closed the request without an answer")),
        );
      });
    },
    close() {
      sessions.abort();
    },
  };
}

/**
 * HTTP/2 flow-control windows of the link, per stream and per session. The
 * defaults (64 KiB each) let the executor send one 64 KiB stdout chunk or file
 * block before it must wait for the sidecar's WINDOW_UPDATE: a round trip per
 * chunk on a unix socket that could carry gigabytes a second. Memory stays
 * bounded by the readers' own back-pressure; the window only says how much may
 * be in flight. The executor's server widens its side the same way.
 */
export const LINK_STREAM_WINDOW = 8 << 20;
const LINK_SESSION_WINDOW = 64 << 20;

/** An {@link Http2SessionManager} whose sessions get the wide receive window above. */
class WideWindowSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<object>();
  override async request(
    ...args: Parameters<Http2SessionManager["request"]>
  ): ReturnType<Http2SessionManager["request"]> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(LINK_SESSION_WINDOW);
    }
    return stream;
  }
}
