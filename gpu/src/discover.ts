/**
 * Discovery: the node's GPUs from the NVIDIA driver (`nvidia-smi`) and sysfs (each PCI device's
 * `numa_node`), or the same facts from a fake inventory directory. Both go through one
 * {@link discover}, so the fake exercises every parser the driver path uses.
 *
 * A fake inventory directory holds:
 * - `query.csv`: what `nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id
 *   --format=csv,noheader,nounits` prints;
 * - `topo.txt`: what `nvidia-smi topo -m` prints;
 * - `sys/bus/pci/devices/<bus id>/numa_node`: a sysfs tree;
 * - `dev/nvidia<N>`, `dev/nvidiactl`: the device nodes a container gets;
 * - `unhealthy` (optional): one `<uuid> <why>` per line, standing in for the driver reporting
 *   errors on a device (an XID); a device that leaves `query.csv` is gone.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { GpuDevice, Inventory } from "./inventory.js";
import { QUERY_ARGS, parseQuery, parseTopology } from "./nvidia-smi.js";

/** Where the facts come from. */
export interface InventorySource {
  /** The query's output (see `nvidia-smi.ts`). */
  query(): Promise<string>;
  /** `nvidia-smi topo -m`'s output; empty when it cannot say. */
  topology(): Promise<string>;
  /** The root of the sysfs tree (`/sys`). */
  sysRoot: string;
  /** Where the device nodes are (`/dev`). */
  devRoot: string;
  /** Devices the source itself reports as failing, uuid → why (the fake's `unhealthy` file). */
  reportedFailures(): Promise<Map<string, string>>;
}

/** The driver could not be asked (no nvidia-smi, or it failed); `cause` is the error. */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";
}

const run = promisify(execFile);

/** The real driver: `nvidia-smi` on PATH (or `smi`), /sys and /dev. */
export function driverSource(smi = "nvidia-smi"): InventorySource {
  const ask = async (args: string[]) => {
    try {
      return (await run(smi, args, { timeout: 30_000, maxBuffer: 4 << 20 })).stdout;
    } catch (err) {
      throw new DiscoveryError(`${smi} ${args.join(" ")} failed: ${String(err)}`, { cause: err });
    }
  };
  return {
    query: () => ask(QUERY_ARGS),
    // Older drivers or a single GPU may not print a matrix; NVLink is then unknown, not fatal.
    topology: () => ask(["topo", "-m"]).catch(() => ""),
    sysRoot: "/sys",
    devRoot: "/dev",
    reportedFailures: async () => new Map(),
  };
}

/** A fake inventory directory (layout above). */
export function fakeSource(dir: string): InventorySource {
  const read = (name: string) => readFile(join(dir, name), "utf8");
  return {
    query: async () => {
      try {
        return await read("query.csv");
      } catch (err) {
        throw new DiscoveryError(`the fake inventory ${dir} has no query.csv`, { cause: err });
      }
    },
    topology: () => read("topo.txt").catch(() => ""),
    sysRoot: join(dir, "sys"),
    devRoot: join(dir, "dev"),
    reportedFailures: async () => {
      const text = await read("unhealthy").catch(() => "");
      const failing = new Map<string, string>();
      for (const line of text.split("\n")) {
        const [uuid, ...why] = line.trim().split(/\s+/);
        if (uuid) failing.set(uuid, why.join(" ") || "reported failing");
      }
      return failing;
    },
  };
}

/** The NUMA node sysfs gives the PCI device; undefined for -1 (no affinity) or no file. */
async function numaNodeOf(sysRoot: string, busId: string): Promise<number | undefined> {
  if (!busId) return undefined;
  try {
    const n = Number(
      (await readFile(join(sysRoot, "bus/pci/devices", busId, "numa_node"), "utf8")).trim(),
    );
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks the source for the GPUs. A device whose row carries an error marker, or that the source
 * reports failing, is in the inventory and in `unhealthy`.
 */
export async function discover(source: InventorySource): Promise<Inventory> {
  const rows = parseQuery(await source.query());
  const topo = parseTopology(await source.topology());
  const byIndex = new Map(rows.map((r) => [r.index, r.uuid]));
  const unhealthy = await source.reportedFailures();
  const devices: GpuDevice[] = [];
  for (const r of rows) {
    if (r.error) unhealthy.set(r.uuid, `the driver reports ${r.error}`);
    devices.push({
      index: r.index,
      uuid: r.uuid,
      name: r.name,
      memoryMiB: r.memoryMiB,
      pciBusId: r.pciBusId,
      numaNode: (await numaNodeOf(source.sysRoot, r.pciBusId)) ?? topo.numa.get(r.index),
      nvlinkPeers: (topo.nvlinks.get(r.index) ?? []).flatMap((i) => byIndex.get(i) ?? []),
    });
  }
  // Only failures of devices that exist count; a stale line in `unhealthy` names nothing.
  for (const uuid of unhealthy.keys())
    if (!byIndex.size || !rows.some((r) => r.uuid === uuid)) unhealthy.delete(uuid);
  return { devices, unhealthy };
}

/**
 * Compares a fresh discovery with the advertised devices: a device that is no longer there is
 * kept, marked unhealthy ("gone"), so the kubelet stops handing it out rather than forgetting it
 * while a container may still hold it.
 */
export function mergeGone(previous: Inventory | undefined, next: Inventory): Inventory {
  if (!previous) return next;
  const present = new Set(next.devices.map((d) => d.uuid));
  const gone = previous.devices.filter((d) => !present.has(d.uuid));
  if (gone.length === 0) return next;
  const unhealthy = new Map(next.unhealthy);
  for (const d of gone) unhealthy.set(d.uuid, "the device is gone from the driver's list");
  return {
    devices: [...next.devices, ...gone].sort((a, b) => a.index - b.index),
    unhealthy,
  };
}
