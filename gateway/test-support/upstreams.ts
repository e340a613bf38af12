/**
 * Small real servers that stand in for what users run on their sandbox ports, each on a loopback
 * address of its own (a fake pod IP) and a free port.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createH2Server, type Http2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { randomLoopbackIp } from "./pod-envd.js";

/** A server listening on `podIP:port`. */
export interface Upstream {
  podIP: string;
  port: number;
  close(): Promise<void>;
}

async function listenOnFreshIp(server: Server | Http2Server, port = 0): Promise<Upstream> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  for (let attempt = 0; ; attempt++) {
    const podIP = randomLoopbackIp();
    try {
      server.listen(port, podIP);
      await once(server, "listening");
      return {
        podIP,
        port: (server.address() as AddressInfo).port,
        close: async () => {
          const closed = new Promise((r) => server.close(r));
          for (const s of sockets) s.destroy();
          await closed;
        },
      };
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}

/** An HTTP/1.1 server running `handler`. */
export function startHttpUpstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Upstream & { server: Server }> {
  const server = createServer({ requestTimeout: 0 }, handler);
  return listenOnFreshIp(server).then((u) => ({ ...u, server }));
}

/** A cleartext HTTP/2 server on port `port` (49983 makes the front door use h2c to it). */
export function startH2cUpstream(
  port: number,
  onStream: Parameters<Http2Server["on"]>[1],
): Promise<Upstream & { server: Http2Server }> {
  const server = createH2Server();
  server.on("stream", onStream);
  return listenOnFreshIp(server, port).then((u) => ({ ...u, server }));
}

/** The `Sec-WebSocket-Accept` for a key (RFC 6455 4.2.2). */
export function websocketAccept(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC11B65`).digest("base64");
}

/** A text frame: unmasked from a server, masked (as RFC 6455 requires) from a client. Short only. */
export function textFrame(text: string, mask?: Buffer): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error("test frames are short");
  if (!mask) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const masked = payload.map((b, i) => b ^ (mask[i % 4] ?? 0));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Decodes one short text frame (masked or not). */
export function readTextFrame(frame: Buffer): string {
  const len = (frame[1] ?? 0) & 0x7f;
  const masked = ((frame[1] ?? 0) & 0x80) !== 0;
  if (!masked) return frame.subarray(2, 2 + len).toString();
  const mask = frame.subarray(2, 6);
  return Buffer.from(frame.subarray(6, 6 + len).map((b, i) => b ^ (mask[i % 4] ?? 0))).toString();
}

/**
 * A WebSocket server: completes the handshake, then answers each text frame with its upper-case
 * text. It records the upgrade requests' headers.
 */
export async function startWebSocketUpstream(): Promise<
  Upstream & { seen: IncomingMessage["headers"][] }
> {
  const seen: IncomingMessage["headers"][] = [];
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    seen.push(req.headers);
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
        `sec-websocket-accept: ${websocketAccept(String(req.headers["sec-websocket-key"]))}\r\n\r\n`,
    );
    socket.on("data", (frame: Buffer) =>
      socket.write(textFrame(readTextFrame(frame).toUpperCase())),
    );
    socket.on("error", () => socket.destroy());
  });
  const u = await listenOnFreshIp(server);
  return { ...u, seen };
}
