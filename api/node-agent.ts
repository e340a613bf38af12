/**
 * The node agent's wire contract: what the operator asks the agent on a sandbox's node (capture
 * a container's filesystem changes into the object store, apply them to a new container before
 * its command starts) and what the agent answers. The agent serves JSON over HTTP on the node's
 * address (host network), every call with `Authorization: Bearer <token>` from the chart's
 * node-agent Secret. Both calls are idempotent by `id` (the Snapshot's or pod's uid): a call
 * repeated while the first runs joins it, so an operator that restarts mid-pause never runs two
 * captures of one Snapshot.
 */

/** The agent's default port on each node. */
export const NODE_AGENT_PORT = 9479;

/** The agent's endpoints. */
export const NodeAgentPath = {
  capture: "/v1/capture",
  restore: "/v1/restore",
  health: "/healthz",
} as const;

/** The env var (operator and agent) naming the file that holds the shared bearer token. */
export const NODE_AGENT_TOKEN_FILE_ENV = "SOULBOX_NODE_AGENT_TOKEN_FILE";

/**
 * The file in the sandbox pod's shared volume that the agent writes once a restore is applied;
 * the executor (started with `--wait-for`) starts the template's command only after it exists.
 */
export const RESTORED_MARKER = "run/restored";

/** `POST /v1/capture`: the container's changes over its image, as a tar layer, into the store. */
export interface CaptureRequest {
  /** Joins a capture already running with the same id (the Snapshot's uid). */
  id: string;
  /** `containerd://<id>` or the bare id, as the pod's container status says. */
  containerID: string;
  /** The object key to write (relative to the store's prefix); an existing object is replaced. */
  key: string;
}

/** What a capture stored. */
export interface CaptureResult {
  key: string;
  /** Bytes stored (the compressed layer). */
  size: number;
  sha256: string;
  /** Files, directories, links and whiteouts in the layer. */
  entries: number;
  /** Paths left out because a tar layer cannot carry them here (device nodes, sockets). */
  skipped: string[];
  durationMs: number;
}

/** `POST /v1/restore`: apply a stored layer to a new container before its command starts. */
export interface RestoreRequest {
  /** Joins a restore already running with the same id (the pod's uid). */
  id: string;
  containerID: string;
  /** The pod's uid: the agent writes {@link RESTORED_MARKER} into its shared volume. */
  podUID: string;
  /** The name of the pod's shared emptyDir volume. */
  volume: string;
  key: string;
  /** The layer's sha256 as the Snapshot recorded it: a layer that does not match is refused. */
  sha256: string;
}

/** What a restore did. */
export interface RestoreResult {
  /** False when the marker was there already (applied before; nothing done now). */
  applied: boolean;
  entries: number;
  durationMs: number;
}

/** Why a call failed, as the agent's error body says it. */
export type NodeAgentErrorCode =
  | "InvalidArgument"
  | "Unauthorized"
  | "ContainerNotFound"
  | "IntegrityMismatch"
  | "StorageUnavailable"
  | "StorageNotConfigured"
  | "Internal";

/** The agent's error body. */
export interface NodeAgentErrorBody {
  code: NodeAgentErrorCode;
  message: string;
}
