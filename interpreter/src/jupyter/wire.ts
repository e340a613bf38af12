// The Jupyter messaging protocol's wire format (jupyter-client's "The Wire Protocol"): routing
// identities, the "<IDS|MSG>" delimiter, an HMAC-SHA256 signature, then four JSON frames
// (header, parent header, metadata, content) and optional binary buffers. Pure functions.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

const DELIMITER = Buffer.from("<IDS|MSG>");

/** A message header. */
export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** A decoded message (buffers dropped: no kernel we run sends any we use). */
export interface JupyterMessage {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** Builds a request header for `session`. */
export function makeHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    msg_type: msgType,
    session,
    username: "soulbox",
    date: new Date().toISOString(),
    version: "5.3",
  };
}

function sign(key: string, parts: Buffer[]): string {
  if (key === "") return "";
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Serialises a message into the frames a DEALER sends (no identities: the kernel's ROUTER adds ours). */
export function encodeJupyter(key: string, msg: JupyterMessage): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) =>
    Buffer.from(JSON.stringify(p)),
  );
  return [DELIMITER, Buffer.from(sign(key, parts)), ...parts];
}

/**
 * Parses the frames of a received message (any identities or PUB topic before the delimiter are
 * skipped). Throws WireError on a missing delimiter, a bad signature or bad JSON.
 */
export function decodeJupyter(key: string, frames: Buffer[]): JupyterMessage {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError("a message without the <IDS|MSG> delimiter");
  const sig = frames[at + 1];
  const parts = frames.slice(at + 2, at + 6);
  if (sig === undefined || parts.length < 4)
    throw new WireError("a message with fewer than four parts");
  if (key !== "") {
    const want = Buffer.from(sign(key, parts));
    if (want.length !== sig.length || !timingSafeEqual(want, sig))
      throw new WireError("a message with a bad signature");
  }
  try {
    const [header, parent, metadata, content] = parts.map(
      (p) => JSON.parse(p.toString()) as unknown,
    );
    return {
      header: header as Header,
      parent_header: (parent ?? {}) as Partial<Header>,
      metadata: (metadata ?? {}) as Record<string, unknown>,
      content: (content ?? {}) as Record<string, unknown>,
    };
  } catch (cause) {
    throw new WireError("a message part is not JSON", { cause });
  }
}

/** A message that does not follow the wire protocol. */
export class WireError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WireError";
  }
}
