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

/**
 * The name the agents' serving certificate carries (the chart's certificate has it as its DNS
 * name): the operator calls agents at node addresses over TLS and checks the certificate against
 * this name and the agents' CA, so the bearer token never crosses the network in the clear.
 */
export const NODE_AGENT_TLS_NAME = "soulbox-node-agent";

/** The agent's endpoints. */
export const NodeAgentPath = {
  capture: "/v1/capture",
  restore: "/v1/restore",
  restoreImage: "/v1/restore-image",
  forgetImage: "/v1/forget-image",
  wake: "/v1/wake",
  health: "/healthz",
} as const;

/** The env var (operator and agent) naming the file that holds the shared bearer token. */
export const NODE_AGENT_TOKEN_FILE_ENV = "SOULBOX_NODE_AGENT_TOKEN_FILE";

/**
 * The file in the sandbox pod's shared volume that the agent writes once a restore is applied;
 * the executor (started with `--wait-for`) starts the template's command only after it exists.
 */
export const RESTORED_MARKER = "run/restored";

/**
 * What a capture takes. `Filesystem`: the container's changes over its image, as a tar layer.
 * `Memory`: a CRIU checkpoint of the container through the kubelet (processes, memory, and the
 * changed files inside the archive), stored as one part and also made the node's checkpoint image.
 */
export type CaptureMode = "Filesystem" | "Memory";

/** The kubelet's name of the container a Memory capture checkpoints. */
export interface PodContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

/** `POST /v1/capture`: one part of a Snapshot, into the store. */
export interface CaptureRequest {
  /** Joins a capture already running with the same id (the Snapshot's uid). */
  id: string;
  /** `containerd://<id>` or the bare id, as the pod's container status says. */
  containerID: string;
  /** The object key to write (relative to the store's prefix); an existing object is replaced. */
  key: string;
  /** Default `Filesystem`. */
  mode?: CaptureMode;
  /** Memory: the container, as the kubelet checkpoint API names it. */
  target?: PodContainerRef;
  /** Memory: the checkpoint image to make in the node's containerd (`repository:tag`). */
  image?: string;
  /** Memory: the image the container runs (recorded in the checkpoint image). */
  rootfsImage?: string;
  /**
   * Memory: the executor's socket inside the container; the executor closes it for the
   * checkpoint (CRIU cannot dump a socket whose peer is in another container).
   */
  executorSocket?: string;
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
  /** Memory: the checkpoint image now in the node's containerd. */
  image?: string;
  /**
   * Memory: where the time went, in ms: `quiet` (the executor closing its link), `checkpoint`
   * (the kubelet's CRIU dump and archive), `store` (the upload) and `image` (the import; these
   * two run at once).
   */
  steps?: Record<string, number>;
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

/**
 * `POST /v1/restore-image`: make sure the node's containerd has the checkpoint image of a Memory
 * Snapshot before a pod names it. An image already there is kept when its layer (the archive) has
 * the recorded sha256; otherwise the stored archive is read (and checked) and imported.
 */
export interface RestoreImageRequest {
  /** Joins a call already running with the same id. */
  id: string;
  /** The memory part's key and recorded sha256. */
  key: string;
  sha256: string;
  /** The checkpoint image reference (`repository:tag`). */
  image: string;
  /** The checkpointed container's name (the checkpoint image's annotation). */
  container: string;
}

/** What a restore-image call did. */
export interface RestoreImageResult {
  /** False when the image was on the node already (with the recorded archive). */
  imported: boolean;
  durationMs: number;
}

/**
 * `POST /v1/forget-image`: remove a deleted Memory Snapshot's checkpoint image from the node's
 * containerd (its layers go with containerd's garbage collection once no container holds them).
 * Only checkpoint images (`CHECKPOINT_IMAGE_PREFIX` in api/snapshot.ts) are removed; an image the
 * node does not have is no error, so a finalizer can ask again.
 */
export interface ForgetImageRequest {
  /** The checkpoint image reference (`repository:tag`). */
  image: string;
}

/** What a forget-image call did. */
export interface ForgetImageResult {
  /** False when the node did not have the image. */
  removed: boolean;
}

/**
 * `POST /v1/wake`: a container restored from a Memory checkpoint wakes with its executor quiet
 * (it was checkpointed so); this tells it to listen again, so the new pod's sidecar reaches it.
 * Idempotent: an executor that listens already ignores it.
 */
export interface WakeRequest {
  id: string;
  containerID: string;
}

/** Why a call failed, as the agent's error body says it. */
export type NodeAgentErrorCode =
  | "InvalidArgument"
  /** Memory mode on a container whose runtime CRIU cannot reach (Kata, gVisor). */
  | "RuntimeNotSupported"
  /** Memory mode on an agent started without the kubelet and containerd settings it needs. */
  | "MemoryNotConfigured"
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
