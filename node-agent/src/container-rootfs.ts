/**
 * Where a running container's root filesystem is on this node: the merged overlay mount that
 * containerd's runtime shim made (`<state>/io.containerd.runtime.v2.task/k8s.io/<id>/rootfs`),
 * its upper directory (the container's own changes over its image), and the paths inside the
 * container that are other mounts (volumes, /proc, the shared emptyDir), which a snapshot leaves
 * out. The agent sees the host's mounts through a HostToContainer mount of containerd's state
 * directory, at the same path as on the host.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { NodeAgentError } from "./errors.js";

/** One line of /proc/self/mountinfo, the parts the agent reads. */
export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/** A container's root filesystem as the node sees it. */
export interface ContainerRootfs {
  id: string;
  /** The merged view (image + changes): where a restore writes. */
  merged: string;
  /** The overlay's upper directory: what a capture reads. Absent for a non-overlay rootfs. */
  upper?: string;
  /** Absolute paths in the container that are mounts of their own (left out of snapshots). */
  mountDestinations: string[];
}

const CONTAINERD_NAMESPACE = "k8s.io";

/** `containerd://abc` or `abc` → `abc`; anything but a hex id is refused. */
export function bareContainerId(containerID: string): string {
  const id = containerID.replace(/^[a-z]+:\/\//, "");
  if (!/^[0-9a-f]{12,128}$/.test(id))
    throw new NodeAgentError(
      "InvalidArgument",
      `containerID "${containerID}" is not a container id (containerd://<hex>)`,
    );
  return id;
}

/** The mount's path with mountinfo's octal escapes (`\040` for a space) undone. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/<pid>/mountinfo (see proc(5)). Pure. */
export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields.length < dash + 4) continue;
    mounts.push({
      mountPoint: unescape(fields[4] ?? ""),
      fsType: fields[dash + 1] ?? "",
      source: unescape(fields[dash + 2] ?? ""),
      superOptions: fields[dash + 3] ?? "",
    });
  }
  return mounts;
}

/** The `upperdir=` of overlay super options, unescaped; undefined when absent. */
export function overlayUpperdir(superOptions: string): string | undefined {
  for (const option of superOptions.split(",")) {
    if (option.startsWith("upperdir=")) return unescape(option.slice("upperdir=".length));
  }
  return undefined;
}

/** The destinations of an OCI runtime spec's mounts (config.json), "/" left out. Pure. */
export function mountDestinations(ociSpec: unknown): string[] {
  const mounts = (ociSpec as { mounts?: { destination?: unknown }[] }).mounts ?? [];
  return mounts
    .map((m) => m.destination)
    .filter((d): d is string => typeof d === "string" && d.startsWith("/") && d !== "/")
    .map((d) => d.replace(/\/+$/, ""));
}

/**
 * Finds container `containerID`'s root filesystem under containerd's state directory. Fails with
 * ContainerNotFound when the container has no bundle on this node (not running, or elsewhere).
 */
export async function findContainerRootfs(
  containerID: string,
  options: { containerdState: string; mountinfoPath?: string },
): Promise<ContainerRootfs> {
  const id = bareContainerId(containerID);
  const bundle = join(
    options.containerdState,
    "io.containerd.runtime.v2.task",
    CONTAINERD_NAMESPACE,
    id,
  );
  const merged = join(bundle, "rootfs");
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(join(bundle, "config.json"), "utf8"));
  } catch (err) {
    throw new NodeAgentError(
      "ContainerNotFound",
      `container ${id} has no running bundle on this node (${bundle}): is the pod running here?`,
      { cause: err },
    );
  }
  const mounts = parseMountinfo(
    await readFile(options.mountinfoPath ?? "/proc/self/mountinfo", "utf8"),
  );
  const root = mounts.filter((m) => m.mountPoint === merged).at(-1);
  if (!root)
    throw new NodeAgentError(
      "ContainerNotFound",
      `container ${id}'s root filesystem is not mounted at ${merged} as this agent sees it (is containerd's state directory mounted with HostToContainer propagation?)`,
    );
  const upper = root.fsType === "overlay" ? overlayUpperdir(root.superOptions) : undefined;
  return { id, merged, ...(upper ? { upper } : {}), mountDestinations: mountDestinations(spec) };
}
