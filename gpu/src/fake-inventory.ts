/**
 * Writes a fake inventory directory (layout in `discover.ts`): N GPUs split evenly over NUMA
 * nodes, NVLinked in pairs within a NUMA node, as the text nvidia-smi would print for them. Only
 * the inventory is fake: the plugin reads it through the same parsers, and serves the real
 * kubelet the real gRPC API.
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What {@link writeFakeInventory} makes. */
export interface FakeInventoryOptions {
  gpus: number;
  /** NUMA nodes to split them over (default 2). */
  numaNodes?: number;
  /** The model name (default `NVIDIA H100 80GB HBM3`). */
  name?: string;
  memoryMiB?: number;
  /** Make character device nodes (`mknod`, root only) under dev/ (default true). */
  deviceNodes?: boolean;
}

/** The NVIDIA character devices' major number (/dev/nvidia<N> is 195:N, nvidiactl 195:255). */
const NVIDIA_MAJOR = 195;

/** The uuid of fake GPU `i`: stable, so tests and logs can name it. */
export function fakeUuid(i: number): string {
  return `GPU-00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

/** Fake GPU `i`'s PCI bus id, sysfs form. */
export function fakeBusId(i: number): string {
  return `0000:${(0x18 + i * 8).toString(16).padStart(2, "0")}:00.0`;
}

/** The NUMA node of fake GPU `i` of `n` over `numa` nodes: the first n/numa on node 0, and so on. */
export function fakeNumaNode(i: number, n: number, numa: number): number {
  return Math.min(numa - 1, Math.floor(i / Math.ceil(n / numa)));
}

/** Writes the directory; returns the uuids in index order. Safe to run again over the same dir. */
export async function writeFakeInventory(dir: string, o: FakeInventoryOptions): Promise<string[]> {
  const n = o.gpus;
  const numa = o.numaNodes ?? 2;
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new RangeError(`a fake inventory has 1 to 64 GPUs, not ${n}`);
  const name = o.name ?? "NVIDIA H100 80GB HBM3";
  const memory = o.memoryMiB ?? 81559;
  const uuids = Array.from({ length: n }, (_, i) => fakeUuid(i));
  const smiBus = (i: number) => `0000${fakeBusId(i)}`.toUpperCase(); // nvidia-smi's 8-digit domain
  const query = uuids.map((u, i) => `${i}, ${u}, ${name}, ${memory}, ${smiBus(i)}`).join("\n");

  // NVLink pairs (0,1), (2,3), … when both are on one NUMA node.
  const linked = (a: number, b: number) =>
    a !== b &&
    Math.floor(a / 2) === Math.floor(b / 2) &&
    fakeNumaNode(a, n, numa) === fakeNumaNode(b, n, numa);
  const cell = (a: number, b: number) =>
    a === b
      ? " X "
      : linked(a, b)
        ? "NV18"
        : fakeNumaNode(a, n, numa) === fakeNumaNode(b, n, numa)
          ? "NODE"
          : "SYS";
  const header = `\t${uuids.map((_, i) => `GPU${i}`).join("\t")}\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID`;
  const rows = uuids.map(
    (_, a) =>
      `GPU${a}\t${uuids.map((_, b) => cell(a, b)).join("\t")}\tN/A\t${fakeNumaNode(a, n, numa)}\tN/A`,
  );
  const legend =
    "\nLegend:\n\n  X    = Self\n  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes\n  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node\n  NV#  = Connection traversing a bonded set of # NVLinks\n";

  await mkdir(join(dir, "dev"), { recursive: true });
  await writeFile(join(dir, "query.csv"), `${query}\n`);
  await writeFile(join(dir, "topo.txt"), `${header}\n${rows.join("\n")}\n${legend}`);
  for (let i = 0; i < n; i++) {
    const d = join(dir, "sys/bus/pci/devices", fakeBusId(i));
    await mkdir(d, { recursive: true });
    await writeFile(join(d, "numa_node"), `${fakeNumaNode(i, n, numa)}\n`);
  }
  if (o.deviceNodes ?? true) {
    const node = (file: string, minor: number) => {
      try {
        execFileSync(
          "mknod",
          ["-m", "0666", join(dir, "dev", file), "c", String(NVIDIA_MAJOR), String(minor)],
          { stdio: "pipe" },
        );
      } catch (err) {
        if (!/File exists/.test(String((err as { stderr?: Buffer }).stderr ?? ""))) throw err;
      }
    };
    for (let i = 0; i < n; i++) node(`nvidia${i}`, i);
    node("nvidiactl", 255);
  }
  return uuids;
}
