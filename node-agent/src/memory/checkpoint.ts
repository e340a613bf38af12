/**
 * Asks the kubelet for a CRIU checkpoint of one container: `POST /checkpoint/{namespace}/{pod}/{container}`
 * on the kubelet's own HTTPS port (the ContainerCheckpoint feature, beta and on since 1.30). The
 * kubelet asks the runtime (containerd → runc → CRIU) to dump the container, leaving it running,
 * and answers `{"items": ["<archive path>"]}`: a tar under the kubelet's root dir,
 * `checkpoints/checkpoint-<pod>_<namespace>-<container>-<time>.tar`, on the node.
 *
 * Credentials: the kubelet authenticates a client certificate signed by its client CA or a bearer
 * token (TokenReview), then authorizes `create` on the `nodes/checkpoint` subresource
 * (SubjectAccessReview). In the cluster the node agent uses its ServiceAccount token with a
 * ClusterRole granting `nodes/checkpoint` create (not `nodes/proxy`, which is far wider); the
 * local cluster's tests use its admin client certificate.
 */
import { request } from "node:https";
import { readFile } from "node:fs/promises";

/** How to reach and authenticate to one node's kubelet. */
export interface KubeletEndpoint {
  /** `https://<node ip>:<port>` (10250 by default in a real cluster). */
  url: string;
  /** PEM of the CA that signed the kubelet's serving certificate. */
  ca: Buffer | string;
  /** A client certificate and key (PEM) the kubelet trusts, or... */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** ...a bearer token (a ServiceAccount's): read fresh for every call, it is rotated. */
  tokenFile?: string;
}

/** Which container to checkpoint. */
export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

/** The kubelet refused or failed the checkpoint; `status` is its HTTP status (0: no answer). */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The kubelet's checkpoint path for `ref`; throws {@link CheckpointError} for a name that is not a DNS name. */
export function checkpointPath(ref: ContainerRef, timeoutSeconds?: number): string {
  for (const what of ["namespace", "pod", "container"] as const) {
    const v = ref[what];
    if (!NAME.test(v))
      throw new CheckpointError(`${what} ${JSON.stringify(v)} is not a valid name`, 0);
  }
  const q = timeoutSeconds === undefined ? "" : `?timeout=${Math.ceil(timeoutSeconds)}`;
  return `/checkpoint/${ref.namespace}/${ref.pod}/${ref.container}${q}`;
}

/**
 * The archive path out of the kubelet's answer (`{"items": [path]}`, exactly one absolute path);
 * throws {@link CheckpointError} for anything else.
 */
export function archiveFromReply(body: string): string {
  let items: unknown;
  try {
    items = (JSON.parse(body) as { items?: unknown }).items;
  } catch (err) {
    throw new CheckpointError(`the kubelet's answer is not JSON: ${body.slice(0, 200)}`, 200, {
      cause: err,
    });
  }
  if (
    !Array.isArray(items) ||
    items.length !== 1 ||
    typeof items[0] !== "string" ||
    !items[0].startsWith("/")
  )
    throw new CheckpointError(
      `the kubelet's answer names no single archive: ${body.slice(0, 200)}`,
      200,
    );
  return items[0];
}

/**
 * Checkpoints `ref` through the kubelet at `endpoint` and resolves to the archive's path on the
 * node. `timeoutSeconds` bounds the runtime's work (the kubelet's `timeout` parameter) and, with
 * a margin, this request. Throws {@link CheckpointError}: the kubelet's status and message when it
 * refuses (401/403: credentials; 404: no such container or the feature is off; 500: the runtime
 * or CRIU failed, with its message).
 */
export async function checkpointContainer(
  endpoint: KubeletEndpoint,
  ref: ContainerRef,
  timeoutSeconds = 120,
): Promise<string> {
  const path = checkpointPath(ref, timeoutSeconds);
  const token = endpoint.tokenFile
    ? (await readFile(endpoint.tokenFile, "utf8")).trim()
    : undefined;
  if (!token && !(endpoint.cert && endpoint.key))
    throw new CheckpointError(
      "no kubelet credentials: give a client certificate and key or a token file",
      0,
    );
  const url = new URL(path, endpoint.url);
  const { status, body } = await new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          ca: endpoint.ca,
          ...(token
            ? { headers: { authorization: `Bearer ${token}` } }
            : { cert: endpoint.cert, key: endpoint.key }),
          timeout: (timeoutSeconds + 30) * 1000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutSeconds + 30} s`)));
      req.on("error", reject);
      req.end();
    },
  ).catch((err: unknown) => {
    throw new CheckpointError(`the kubelet at ${endpoint.url} did not answer: ${String(err)}`, 0, {
      cause: err,
    });
  });
  if (status !== 200)
    throw new CheckpointError(
      `the kubelet refused the checkpoint of ${ref.namespace}/${ref.pod}/${ref.container} (${status}): ${body.trim().slice(0, 500)}`,
      status,
    );
  return archiveFromReply(body);
}
