/**
 * The operator's calls to the node agent on a sandbox's node (api/node-agent.ts): capture a
 * container's files (or, Memory mode, a checkpoint of it) into the store, restore them into a new
 * container, put a checkpoint image back on the node and wake a restored executor. The agent listens on
 * the node's address (host network), so the pod's `status.hostIP` is where to call.
 */
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import {
  NODE_AGENT_TLS_NAME,
  NodeAgentPath,
  type CaptureRequest,
  type CaptureResult,
  type ForgetImageRequest,
  type ForgetImageResult,
  type NodeAgentErrorCode,
  type RestoreImageRequest,
  type RestoreImageResult,
  type RestoreRequest,
  type RestoreResult,
  type WakeRequest,
} from "../../../api/node-agent.js";

/** What the operator asks of node agents. */
export interface NodeAgentClient {
  capture(hostIP: string, req: CaptureRequest): Promise<CaptureResult>;
  restore(hostIP: string, req: RestoreRequest): Promise<RestoreResult>;
  restoreImage(hostIP: string, req: RestoreImageRequest): Promise<RestoreImageResult>;
  forgetImage(hostIP: string, req: ForgetImageRequest): Promise<ForgetImageResult>;
  wake(hostIP: string, req: WakeRequest): Promise<unknown>;
}

/** The agent did not do what was asked; `code` is its error code when it answered. */
export class NodeAgentCallError extends Error {
  override name = "NodeAgentCallError";
  constructor(
    message: string,
    readonly code?: NodeAgentErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /**
   * True when no retry can help (bad input, a corrupted snapshot, no storage configured, a
   * runtime CRIU cannot reach, an agent without its Memory settings).
   */
  get permanent(): boolean {
    return (
      this.code === "InvalidArgument" ||
      this.code === "IntegrityMismatch" ||
      this.code === "StorageNotConfigured" ||
      this.code === "RuntimeNotSupported" ||
      this.code === "MemoryNotConfigured"
    );
  }
}

/**
 * Creates a client for agents on `port` with the bearer `token`; `timeoutMs` bounds each call.
 * With `ca` (PEM) the calls are HTTPS, and an agent must present a certificate of that CA for
 * {@link NODE_AGENT_TLS_NAME} (it is called at its node's address, which no certificate names).
 */
export function createNodeAgentClient(opts: {
  port: number;
  token: string;
  timeoutMs?: number;
  ca?: string | Buffer;
}): NodeAgentClient {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const scheme = opts.ca ? "https" : "http";
  async function call<T>(hostIP: string, path: string, body: object): Promise<T> {
    const host = hostIP.includes(":") ? `[${hostIP}]` : hostIP;
    const url = `${scheme}://${host}:${opts.port}${path}`;
    let res: { status: number; text: string };
    try {
      res = await post(hostIP, path, JSON.stringify(body));
    } catch (err) {
      throw new NodeAgentCallError(`the node agent at ${url} did not answer`, undefined, {
        cause: err,
      });
    }
    const { text } = res;
    if (res.status >= 200 && res.status < 300) return JSON.parse(text) as T;
    let code: NodeAgentErrorCode | undefined;
    let message = text;
    try {
      const parsed = JSON.parse(text) as { code?: NodeAgentErrorCode; message?: string };
      code = parsed.code;
      message = parsed.message ?? text;
    } catch {
      // not the agent's JSON (a proxy's page): keep the text
    }
    throw new NodeAgentCallError(`the node agent answered ${res.status}: ${message}`, code);
  }
  /** One POST; resolves to the status and body text, rejects when no answer came. */
  function post(hostIP: string, path: string, body: string) {
    const options: RequestOptions = {
      host: hostIP,
      port: opts.port,
      path,
      method: "POST",
      headers: {
        authorization: `Bearer ${opts.token}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      },
      signal: AbortSignal.timeout(timeoutMs),
    };
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = opts.ca
        ? httpsRequest({ ...options, ca: opts.ca, servername: NODE_AGENT_TLS_NAME })
        : httpRequest(options);
      req.once("error", reject);
      req.once("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.once("error", reject);
        res.once("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      req.end(body);
    });
  }
  return {
    capture: (hostIP, req) => call<CaptureResult>(hostIP, NodeAgentPath.capture, req),
    restore: (hostIP, req) => call<RestoreResult>(hostIP, NodeAgentPath.restore, req),
    restoreImage: (hostIP, req) =>
      call<RestoreImageResult>(hostIP, NodeAgentPath.restoreImage, req),
    forgetImage: (hostIP, req) => call<ForgetImageResult>(hostIP, NodeAgentPath.forgetImage, req),
    wake: (hostIP, req) => call<unknown>(hostIP, NodeAgentPath.wake, req),
  };
}
