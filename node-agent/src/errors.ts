/**
 * The node agent's typed error and its one mapping to HTTP statuses (and from storage errors).
 */
import type { NodeAgentErrorCode } from "../../api/node-agent.js";
import { isStorageError } from "../../lib/storage/index.js";
import { CheckpointImageError } from "./memory/checkpoint-image.js";
import { MemoryNotSupportedError } from "./memory/memory-checkpoint.js";

/** A failure of an agent call, with the cause kept. */
export class NodeAgentError extends Error {
  override readonly name = "NodeAgentError";
  constructor(
    readonly code: NodeAgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const STATUS: Record<NodeAgentErrorCode, number> = {
  InvalidArgument: 400,
  RuntimeNotSupported: 422,
  MemoryNotConfigured: 501,
  Unauthorized: 401,
  ContainerNotFound: 404,
  IntegrityMismatch: 422,
  StorageNotConfigured: 501,
  StorageUnavailable: 503,
  Internal: 500,
};

/** The HTTP status of an agent error code. */
export function httpStatus(code: NodeAgentErrorCode): number {
  return STATUS[code];
}

/**
 * Any error as a {@link NodeAgentError}: storage errors keep their meaning (a sha256 mismatch is
 * IntegrityMismatch, a store that cannot be reached is StorageUnavailable), a runtime CRIU cannot
 * reach is RuntimeNotSupported, the rest is Internal.
 */
export function toNodeAgentError(err: unknown, what: string): NodeAgentError {
  if (err instanceof NodeAgentError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof MemoryNotSupportedError)
    return new NodeAgentError("RuntimeNotSupported", detail, { cause: err });
  if (err instanceof CheckpointImageError)
    return new NodeAgentError("InvalidArgument", `${what}: ${detail}`, { cause: err });
  if (isStorageError(err, "IntegrityMismatch"))
    return new NodeAgentError("IntegrityMismatch", `${what}: ${detail}`, { cause: err });
  if (isStorageError(err, "NotFound"))
    return new NodeAgentError("InvalidArgument", `${what}: ${detail}`, { cause: err });
  if (isStorageError(err))
    return new NodeAgentError("StorageUnavailable", `${what}: ${detail}`, { cause: err });
  return new NodeAgentError("Internal", `${what}: ${detail}`, { cause: err });
}
