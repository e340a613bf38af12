/**
 * A checkpoint archive (what the kubelet checkpoint API writes: `checkpoint/` with CRIU's images,
 * `config.dump`, `spec.dump`, `status.dump`, `rootfs-diff.tar`, ...) becomes a checkpoint OCI
 * image that containerd restores through CRI: a pod whose container names this image gets the
 * checkpointed processes back instead of a fresh start.
 *
 * What containerd 2.1+ looks for (internal/cri/server/container_checkpoint_linux.go,
 * `checkIfCheckpointOCIImage` and `CRImportCheckpoint`, with `enable_experimental_restore_via_create`
 * in the CRI runtime plugin's config): the image's target JSON carries the annotation
 * `org.criu.checkpoint.container.name`; its layers, mounted read-only, hold the archive's files at
 * the root (it reads `spec.dump`, `config.dump`, `status.dump` from there and copies the rest into
 * the container's restore directory; the shim applies `rootfs-diff.tar`). The archive is itself an
 * uncompressed tar of exactly those files, so it is the image's one layer, byte for byte: its
 * digest is also its diff ID, and nothing is repacked.
 *
 * The image goes to the node's containerd as an OCI layout tar through `ctr images import` (the
 * client that ships with containerd on every node): the alternative, containerd's gRPC content and
 * image services from TypeScript, would need its protos generated here for one call. The layout is
 * streamed into ctr's stdin ({@link importCheckpointArchive}), never written to the node's disk:
 * the archive is gigabytes for a sandbox holding gigabytes of RAM.
 */
import { createHash } from "node:crypto";
import { execFile, spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { pack } from "tar-stream";

/** The annotation containerd's CRI plugin checks to call an image a checkpoint. */
export const CHECKPOINT_NAME_ANNOTATION = "org.criu.checkpoint.container.name";
/** The pod the checkpoint was taken from (informational, as checkpointctl writes it). */
export const CHECKPOINT_POD_ANNOTATION = "org.criu.checkpoint.pod.name";
/** The pod's namespace (informational). */
export const CHECKPOINT_NAMESPACE_ANNOTATION = "org.criu.checkpoint.pod.namespace";
/** The image the checkpointed container ran (informational; containerd reads config.dump). */
export const CHECKPOINT_ROOTFS_IMAGE_ANNOTATION = "org.criu.checkpoint.rootfsImageName";
/** The full image name `ctr images import` gives an index.json entry. */
export const CONTAINERD_IMAGE_NAME_ANNOTATION = "io.containerd.image.name";
/** The OCI tag of an index.json entry. */
export const OCI_REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

const MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";

/** Where an image came from and how to name it. */
export interface CheckpointImageInfo {
  /** The image reference, `repository:tag` (a digest reference cannot be imported by name). */
  ref: string;
  /** The checkpointed container's name (the annotation containerd requires). */
  container: string;
  pod?: string;
  namespace?: string;
  /** The image the checkpointed container ran. */
  rootfsImage?: string;
  /** The node's CPU architecture as OCI names it (`amd64`, `arm64`); default: this process's. */
  architecture?: string;
  /** The image's creation time; default: now. */
  created?: Date;
}

/** A blob's descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

/** The JSON documents of a checkpoint image, with their bytes (their digests are of these). */
export interface CheckpointImageDocs {
  config: Buffer;
  manifest: Buffer;
  manifestDescriptor: Descriptor;
  /** The OCI layout's index.json. */
  index: Buffer;
}

/** A bad image reference or input: nothing was written. */
export class CheckpointImageError extends Error {
  override readonly name = "CheckpointImageError";
}

/** Fails when containerd's import failed or did not make the named image. */
export class CheckpointImportError extends Error {
  override readonly name = "CheckpointImportError";
}

const REF =
  /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*):([\w][\w.-]{0,127})$/;

/**
 * Splits `repository:tag`; throws {@link CheckpointImageError} for anything else (no tag, a
 * digest, upper case, an empty part). The repository keeps its registry host (`localhost/...`).
 */
export function parseImageRef(ref: string): { repository: string; tag: string } {
  const m = REF.exec(ref);
  if (!m?.[1] || !m[2])
    throw new CheckpointImageError(`image reference ${JSON.stringify(ref)} is not repository:tag`);
  return { repository: m[1], tag: m[2] };
}

/** OCI's name for this process's CPU architecture (Node's `process.arch`). */
export function ociArchitecture(arch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
  };
  const name = names[arch];
  if (!name) throw new CheckpointImageError(`no OCI architecture for ${arch}`);
  return name;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/**
 * The config, manifest and index.json of the checkpoint image whose one layer is an archive
 * with digest `layer.digest` and `layer.size` bytes. Pure: the same input gives the same bytes.
 */
export function checkpointImageDocs(
  info: CheckpointImageInfo,
  layer: { digest: string; size: number },
): CheckpointImageDocs {
  const { tag } = parseImageRef(info.ref);
  if (!info.container) throw new CheckpointImageError("the checkpointed container needs a name");
  if (!/^sha256:[0-9a-f]{64}$/.test(layer.digest))
    throw new CheckpointImageError(`layer digest ${layer.digest} is not a sha256 digest`);
  const architecture = info.architecture ?? ociArchitecture();
  const created = (info.created ?? new Date()).toISOString();
  const annotations: Record<string, string> = {
    [CHECKPOINT_NAME_ANNOTATION]: info.container,
    ...(info.pod ? { [CHECKPOINT_POD_ANNOTATION]: info.pod } : {}),
    ...(info.namespace ? { [CHECKPOINT_NAMESPACE_ANNOTATION]: info.namespace } : {}),
    ...(info.rootfsImage ? { [CHECKPOINT_ROOTFS_IMAGE_ANNOTATION]: info.rootfsImage } : {}),
  };
  // The layer is the archive unchanged and uncompressed, so its diff ID is its digest.
  const config = Buffer.from(
    JSON.stringify({
      created,
      architecture,
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [layer.digest] },
      history: [{ created, created_by: "soulbox node-agent: checkpoint archive" }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_MANIFEST,
      config: { mediaType: MEDIA_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MEDIA_LAYER_TAR, digest: layer.digest, size: layer.size }],
      // containerd reads the annotation from the image's target, which is this manifest.
      annotations,
    }),
  );
  const manifestDescriptor: Descriptor = {
    mediaType: MEDIA_MANIFEST,
    digest: sha256(manifest),
    size: manifest.length,
    platform: { os: "linux", architecture },
    annotations: {
      ...annotations,
      [CONTAINERD_IMAGE_NAME_ANNOTATION]: info.ref,
      [OCI_REF_NAME_ANNOTATION]: tag,
    },
  };
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [manifestDescriptor],
    }),
  );
  return { config, manifest, manifestDescriptor, index };
}

/** The sha256 digest and size of a file, read once. */
export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  // 1 MiB reads: an archive holds the sandbox's RAM; 64 KiB reads cost a syscall per page run.
  for await (const chunk of createReadStream(path, {
    highWaterMark: READ_CHUNK,
  }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

const READ_CHUNK = 1 << 20;

/** What {@link writeCheckpointImage} wrote. */
export interface WrittenImage {
  ref: string;
  /** The manifest's digest: the image's identity in containerd. */
  manifestDigest: string;
  layerDigest: string;
  /** The archive's (the layer's) size in bytes. */
  layerSize: number;
}

/**
 * Writes the checkpoint image of the archive at `archivePath` as an OCI layout tar to `out` (a
 * file's path, or a stream). `layer` is the archive's digest when the caller already has it.
 * Throws {@link CheckpointImageError} for a bad reference or an archive that changed while it
 * was copied (its size no longer matches the digest taken first).
 */
export async function writeCheckpointImage(
  archivePath: string,
  info: CheckpointImageInfo,
  out: string | Writable,
  layer?: { digest: string; size: number },
): Promise<WrittenImage> {
  parseImageRef(info.ref);
  layer ??= await fileDigest(archivePath);
  const docs = checkpointImageDocs(info, layer);
  const tar = pack();
  const done = pipeline(
    tar,
    typeof out === "string" ? createWriteStream(out, { mode: 0o600 }) : out,
  );
  // Awaited below; a sink that fails at once (ctr missing) must not reject unobserved meanwhile.
  done.catch(() => undefined);
  const add = (name: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      tar.entry({ name, mode: 0o644 }, body, (err) => (err ? reject(err) : resolve()));
    });
  const blob = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
  try {
    await add("oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    await add(blob(sha256(docs.config)), docs.config);
    await add(blob(docs.manifestDescriptor.digest), docs.manifest);
    const { size } = await stat(archivePath);
    if (size !== layer.size)
      throw new CheckpointImageError(
        `${archivePath} changed while it was read (${layer.size} → ${size} bytes)`,
      );
    const sink = tar.entry({ name: blob(layer.digest), mode: 0o644, size: layer.size });
    await pipeline(
      createReadStream(archivePath, { end: layer.size - 1, highWaterMark: READ_CHUNK }),
      sink,
    );
    await add("index.json", docs.index);
    tar.finalize();
    await done;
  } catch (err) {
    // No error passed: the pipeline may be gone already, and nothing would listen for it.
    tar.destroy();
    await done.catch(() => undefined);
    throw err;
  }
  return {
    ref: info.ref,
    manifestDigest: docs.manifestDescriptor.digest,
    layerDigest: layer.digest,
    layerSize: layer.size,
  };
}

/** How to reach the node's containerd with `ctr`. */
export interface ContainerdClient {
  /** The `ctr` binary. */
  ctr: string;
  /** containerd's socket (`--address`). */
  address: string;
  /** The containerd namespace of the kubelet's containers: `k8s.io`. */
  namespace?: string;
}

const execFileP = promisify(execFile);

/** Runs `ctr` with the client's address and namespace; resolves to stdout. */
export async function runCtr(client: ContainerdClient, args: string[]): Promise<string> {
  const { stdout } = await execFileP(
    client.ctr,
    ["--address", client.address, "--namespace", client.namespace ?? "k8s.io", ...args],
    { maxBuffer: 64 << 20 },
  );
  return stdout;
}

/** `ctr images import` of a layout tar at `source` (`-`: stdin) under `ref`'s repository. */
function importArgs(ref: string, snapshotter: string, source: string): string[] {
  const { repository } = parseImageRef(ref);
  return ["images", "import", "--snapshotter", snapshotter, "--base-name", repository, source];
}

/**
 * Makes the archive at `archivePath` the checkpoint image `info.ref` in containerd, streaming its
 * OCI layout into `ctr images import -` (the layout is never a file). `layer`: the archive's
 * digest when the caller has it (else it is read once to hash it). Throws
 * {@link CheckpointImportError} with ctr's failure as the cause.
 */
export async function importCheckpointArchive(
  client: ContainerdClient,
  archivePath: string,
  info: CheckpointImageInfo,
  layer?: { digest: string; size: number },
  snapshotter = "overlayfs",
): Promise<WrittenImage> {
  const args = importArgs(info.ref, snapshotter, "-");
  let written: WrittenImage | undefined;
  try {
    await runCtrFed(client, args, async (stdin) => {
      written = await writeCheckpointImage(archivePath, info, stdin, layer);
    });
  } catch (err) {
    if (err instanceof CheckpointImageError) throw err;
    throw new CheckpointImportError(`importing ${info.ref} into containerd failed`, {
      cause: err,
    });
  }
  if (!written) throw new CheckpointImportError(`importing ${info.ref}: no image was written`);
  await checkImported(client, written);
  return written;
}

/**
 * Runs `ctr` while `feed` writes its stdin; resolves to stdout when ctr exits 0 and the feed
 * succeeded. A feed that fails ends stdin early, so ctr fails on the short input too.
 */
export async function runCtrFed(
  client: ContainerdClient,
  args: string[],
  feed: (stdin: Writable) => Promise<void>,
): Promise<string> {
  const child = spawn(
    client.ctr,
    ["--address", client.address, "--namespace", client.namespace ?? "k8s.io", ...args],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = (stdout + d).slice(-65536)));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-65536)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  // ctr may exit before reading everything (a refusal): its stdin's EPIPE is the feed's error.
  child.stdin.on("error", () => undefined);
  const fed = feed(child.stdin).then(
    () => undefined,
    (err: unknown) => {
      child.stdin.destroy();
      return err instanceof Error ? err : new Error(String(err));
    },
  );
  const [code, feedError] = await Promise.all([exited, fed]);
  if (code !== 0)
    throw new Error(`${client.ctr} ${args.join(" ")} exited with ${code}: ${stderr.trim()}`, {
      ...(feedError ? { cause: feedError } : {}),
    });
  if (feedError) throw feedError;
  return stdout;
}

/** Throws unless containerd lists `image.ref` with the manifest digest `image.manifestDigest`. */
async function checkImported(
  client: ContainerdClient,
  image: Pick<WrittenImage, "ref" | "manifestDigest">,
): Promise<void> {
  const listed = await runCtr(client, ["images", "ls"]);
  const line = listed.split("\n").find((l) => l.split(/\s+/)[0] === image.ref);
  const digest = line?.split(/\s+/).find((f) => f.startsWith("sha256:"));
  if (digest !== image.manifestDigest)
    throw new CheckpointImportError(
      `containerd lists ${image.ref} as ${digest ?? "nothing"}, not ${image.manifestDigest}`,
    );
}

/**
 * Removes the checkpoint image `ref` from containerd (its blobs go with containerd's garbage
 * collection once no image or container holds them). A missing image is no error: removal is
 * idempotent, as a Snapshot finalizer needs it.
 */
export async function removeCheckpointImage(
  client: ContainerdClient,
  ref: string,
): Promise<boolean> {
  parseImageRef(ref);
  const listed = await runCtr(client, ["images", "ls", "-q"]);
  if (!listed.split("\n").includes(ref)) return false;
  await runCtr(client, ["images", "rm", "--sync", ref]);
  return true;
}
