// ZMTP 3.0 (rfc.zeromq.org/spec/23) framing, as far as a Jupyter client needs it: the NULL
// security mechanism, the READY handshake, and data frames. Pure functions over Buffers.

/** Frame flag bits (ZMTP 3.0 §"Framing"). */
const MORE = 0x01;
const LONG = 0x02;
const COMMAND = 0x04;

/** The 64-byte greeting: signature, version 3.0, mechanism NULL, as-server 0, filler. */
export function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 0;
  g.write("NULL", 12, "ascii");
  return g;
}

/** Checks a peer's greeting; throws ZmtpError when it is not ZMTP 3.x with the NULL mechanism. */
export function checkGreeting(g: Buffer): void {
  if (g.length < 64 || g[0] !== 0xff || g[9] !== 0x7f)
    throw new ZmtpError("the peer did not send a ZMTP signature");
  if ((g[10] ?? 0) < 3) throw new ZmtpError(`the peer speaks ZMTP ${g[10]}.x, not 3.x`);
  const mechanism = g.subarray(12, 32).toString("ascii").replace(/\0+$/, "");
  if (mechanism !== "NULL")
    throw new ZmtpError(`the peer wants the ${mechanism} mechanism; only NULL is supported`);
}

/** One frame: its body and flags. */
export interface Frame {
  body: Buffer;
  more: boolean;
  command: boolean;
}

/** Encodes one frame (short or long size as the body needs). */
export function encodeFrame(body: Buffer, more: boolean, command = false): Buffer {
  const flags = (more ? MORE : 0) | (command ? COMMAND : 0);
  if (body.length <= 255) {
    const head = Buffer.from([flags, body.length]);
    return Buffer.concat([head, body]);
  }
  const head = Buffer.alloc(9);
  head[0] = flags | LONG;
  head.writeBigUInt64BE(BigInt(body.length), 1);
  return Buffer.concat([head, body]);
}

/** Encodes a multipart message: every frame but the last has MORE set. */
export function encodeMessage(frames: Buffer[]): Buffer {
  return Buffer.concat(frames.map((f, i) => encodeFrame(f, i < frames.length - 1)));
}

/** The READY command announcing our socket type (and an empty identity). */
export function readyCommand(socketType: string): Buffer {
  return encodeFrame(
    Buffer.concat([Buffer.from([5]), Buffer.from("READY"), property("Socket-Type", socketType)]),
    false,
    true,
  );
}

function property(name: string, value: string): Buffer {
  const v = Buffer.from(value);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(v.length);
  return Buffer.concat([Buffer.from([name.length]), Buffer.from(name), len, v]);
}

/** A parsed command: its name and body after the name. */
export interface Command {
  name: string;
  data: Buffer;
}

/** Parses a command frame's body (name-size, name, data). */
export function parseCommand(body: Buffer): Command {
  const n = body[0] ?? 0;
  if (body.length < 1 + n) throw new ZmtpError("a command frame is shorter than its name");
  return { name: body.subarray(1, 1 + n).toString("ascii"), data: body.subarray(1 + n) };
}

/** Parses READY's properties into a map (names lower-cased: ZMTP says they are case-insensitive). */
export function parseProperties(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const n = data[at] ?? 0;
    const name = data.subarray(at + 1, at + 1 + n).toString("ascii");
    at += 1 + n;
    if (at + 4 > data.length) throw new ZmtpError(`property ${name} has no value size`);
    const size = data.readUInt32BE(at);
    at += 4;
    if (at + size > data.length) throw new ZmtpError(`property ${name} is cut short`);
    out.set(name.toLowerCase(), data.subarray(at, at + size).toString());
    at += size;
  }
  return out;
}

/**
 * An incremental frame decoder: push bytes as they arrive, take whole frames out. Chunks are
 * kept as a list and copied once, when a frame is complete, so a large frame arriving in many
 * TCP chunks costs linear time; memory follows the largest frame.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private length = 0;

  /** Adds bytes; returns the frames that are now complete, in order. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    const out: Frame[] = [];
    for (;;) {
      if (this.length < 2) break;
      const head = this.peek(Math.min(9, this.length));
      const flags = head[0] ?? 0;
      let size: number;
      let headSize: number;
      if (flags & LONG) {
        if (head.length < 9) break;
        const big = head.readBigUInt64BE(1);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZmtpError("a frame is too large");
        size = Number(big);
        headSize = 9;
      } else {
        size = head[1] ?? 0;
        headSize = 2;
      }
      if (this.length < headSize + size) break;
      const frame = this.take(headSize + size);
      out.push({
        body: frame.subarray(headSize),
        more: (flags & MORE) !== 0,
        command: (flags & COMMAND) !== 0,
      });
    }
    return out;
  }

  /** The first n buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
    return Buffer.concat(parts).subarray(0, n);
  }

  /** Removes and returns the first n buffered bytes (copied only when they span chunks). */
  private take(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const use = Math.min(c.length, n - at);
      c.copy(out, at, 0, use);
      at += use;
      if (use === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(use);
    }
    return out;
  }
}

/** A protocol violation by the peer, or a connection that ended. */
export class ZmtpError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ZmtpError";
  }
}
