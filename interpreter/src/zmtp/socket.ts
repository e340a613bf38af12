import { connect as tcpConnect, type Socket } from "node:net";
import {
  FrameDecoder,
  ZmtpError,
  checkGreeting,
  encodeMessage,
  greeting,
  parseCommand,
  parseProperties,
  readyCommand,
} from "./codec.js";

/** The socket types a Jupyter client uses: DEALER (shell, control, stdin), SUB (iopub). */
export type SocketType = "DEALER" | "SUB";

/** What the peer may be, for each of our types (ZMTP 3.0's compatibility table). */
const PEERS: Record<SocketType, string[]> = {
  DEALER: ["ROUTER", "DEALER", "REP"],
  SUB: ["PUB", "XPUB"],
};

/**
 * One ZMTP connection to one peer (a kernel binds, we connect). Messages arrive in order
 * through `onMessage`; `pause`/`resume` stop reading from TCP so a slow consumer pushes back
 * on the kernel instead of buffering here.
 */
export interface ZmtpSocket {
  /** Sends one multipart message. */
  send(frames: Buffer[]): void;
  /** Stops delivering messages (and reading from TCP) until `resume`. */
  pause(): void;
  resume(): void;
  /** Closes the connection. */
  close(): void;
  /** Resolves when the connection ends, for whatever reason. */
  readonly closed: Promise<void>;
}

/**
 * Connects, exchanges greetings and READY, and (for SUB) subscribes to every topic. Rejects
 * with ZmtpError on a refused connection or a bad handshake.
 */
export function connectZmtp(
  host: string,
  port: number,
  type: SocketType,
  onMessage: (frames: Buffer[]) => void,
): Promise<ZmtpSocket> {
  return new Promise((resolve, reject) => {
    const sock: Socket = tcpConnect({ host, port });
    sock.setNoDelay(true);
    let stage: "greeting" | "ready" | "open" = "greeting";
    let pending = Buffer.alloc(0);
    const decoder = new FrameDecoder();
    let parts: Buffer[] = [];
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));

    const fail = (err: Error) => {
      sock.destroy();
      if (stage !== "open") reject(err);
    };
    sock.once("connect", () => sock.write(greeting()));
    sock.on("error", (cause) =>
      fail(new ZmtpError(`ZMTP connection to ${host}:${port}: ${cause.message}`, { cause })),
    );
    sock.on("close", () => {
      if (stage !== "open")
        reject(new ZmtpError(`the ZMTP peer at ${host}:${port} closed during the handshake`));
      closedResolve();
    });
    sock.on("data", (chunk: Buffer) => {
      try {
        if (stage === "greeting") {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length < 64) return;
          checkGreeting(pending);
          chunk = pending.subarray(64);
          stage = "ready";
          sock.write(readyCommand(type));
        }
        for (const frame of decoder.push(chunk)) {
          if (frame.command) {
            const cmd = parseCommand(frame.body);
            if (cmd.name === "READY" && stage === "ready") {
              const peer = parseProperties(cmd.data).get("socket-type") ?? "";
              if (!PEERS[type].includes(peer))
                throw new ZmtpError(`a ${type} socket cannot talk to a ${peer || "typeless"} peer`);
              stage = "open";
              // ZMTP 3.0 subscriptions are messages whose first byte is 1 (then the topic).
              if (type === "SUB") sock.write(encodeMessage([Buffer.from([1])]));
              resolve(api);
            } else if (cmd.name === "ERROR") {
              throw new ZmtpError(`the ZMTP peer refused us: ${cmd.data.subarray(1).toString()}`);
            }
            // PING and the rest: nothing to do (we set no heartbeat options).
            continue;
          }
          parts.push(frame.body);
          if (!frame.more) {
            const msg = parts;
            parts = [];
            onMessage(msg);
          }
        }
      } catch (err) {
        fail(err instanceof Error ? err : new ZmtpError(String(err)));
      }
    });

    const api: ZmtpSocket = {
      send: (frames) => {
        sock.write(encodeMessage(frames));
      },
      pause: () => sock.pause(),
      resume: () => sock.resume(),
      close: () => sock.destroy(),
      closed,
    };
  });
}
