/**
 * One TCP port for HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge): each connection's
 * first bytes are read until they either are, or cannot be, the HTTP/2 client preface, put back,
 * and the connection is handed to the matching Node server. Both servers never listen themselves.
 */
import type { Server as Http1Server } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A connection that has not said which protocol it speaks within this long is dropped. */
export const SNIFF_TIMEOUT_MS = 30_000;

/**
 * Reads `socket`'s first bytes until they either are, or cannot be, the HTTP/2 client preface,
 * then puts them back and calls `decide` once. Partial first packets (a preface split over
 * several TCP segments) are waited for, not guessed at. A connection that ends or fails first is
 * destroyed and `decide` is never called.
 */
export function sniffHttp2(socket: Socket, decide: (isH2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && n < H2_PREFACE.length) return; // too early to tell
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    socket.unshift(seen);
    decide(matches);
  };
  const onEnd = () => socket.destroy();
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.on("error", () => socket.destroy());
}

/** Options of {@link createDualProtocolListener}. */
export interface DualProtocolOptions {
  /** Takes the HTTP/1.1 connections (its "connection" event is emitted). */
  http1: Http1Server;
  /** Takes the connections that open with the HTTP/2 preface. */
  http2: Http2Server;
  /** Drop a connection that has not decided within this long (default {@link SNIFF_TIMEOUT_MS}). */
  sniffTimeoutMs?: number;
}

/**
 * A TCP server (not yet listening) that sniffs each connection and hands it to `http1` or
 * `http2`. Nagle is off: Node's HTTP servers disable it on the sockets they accept themselves,
 * and with it on, each small streamed response waited ~40 ms for a delayed ACK.
 */
export function createDualProtocolListener(opts: DualProtocolOptions): NetServer {
  const timeout = opts.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS;
  return createNetServer({ noDelay: true }, (socket) => {
    socket.setTimeout(timeout, () => socket.destroy());
    sniffHttp2(socket, (isH2) => {
      socket.setTimeout(0);
      (isH2 ? opts.http2 : opts.http1).emit("connection", socket);
    });
  });
}
