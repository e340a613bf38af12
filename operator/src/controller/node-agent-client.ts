/**
 * The operator's calls to the node agent on a sandbox's node (api/node-agent.ts): capture a
 * container's files (or, Memory mode, a checkpoint of it) into the store, restore them into a new
 * container, put a checkpoint image back on the node and wake a restored executor. The agent listens on
 * the node's address (host network), so the pod's `status.hostIP` is where to call.
 */
import {
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

/** Creates a client for agents on `port` with the bearer `token`; `timeoutMs` bounds each call. */
export function createNodeAgentClient(opts: {
  port: number;
  token: string;
  timeoutMs?: number;
}): NodeAgentClient {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  async function call<T>(hostIP: string, path: string, body: object): Promise<T> {
    const host = hostIP.includes(":") ? `[${hostIP}]` : hostIP;
    const url = `http://${host}:${opts.port}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new NodeAgentCallError(`the node agent at ${url} did not answer`, undefined, {
        cause: err,
      });
    }
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as T;
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
  return {
    capture: (hostIP, req) => call<CaptureResult>(hostIP, NodeAgentPath.capture, req),
    restore: (hostIP, req) => call<RestoreResult>(hostIP, NodeAgentPath.restore, req),
    restoreImage: (hostIP, req) =>
      call<RestoreImageResult>(hostIP, NodeAgentPath.restoreImage, req),
    forgetImage: (hostIP, req) => call<ForgetImageResult>(hostIP, NodeAgentPath.forgetImage, req),
    wake: (hostIP, req) => call<unknown>(hostIP, NodeAgentPath.wake, req),
  };
}
