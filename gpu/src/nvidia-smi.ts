/**
 * Parsers for what `nvidia-smi` prints (pure; the commands are run by `discover.ts`, and a fake
 * inventory holds the same text in files). The formats are the documented ones:
 * `--query-gpu=<fields> --format=csv,noheader,nounits` prints one comma-separated row per GPU, and
 * `topo -m` prints a tab-separated matrix whose cells say how two devices connect
 * (`X` self, `NV<n>` n NVLinks, `PIX`/`PXB`/`PHB`/`NODE`/`SYS` PCIe paths).
 */

/** The fields {@link QUERY_ARGS} asks for, in order. */
export const QUERY_FIELDS = ["index", "uuid", "name", "memory.total", "pci.bus_id"] as const;

/** The arguments of the `nvidia-smi` query whose output {@link parseQuery} reads. */
export const QUERY_ARGS = [
  `--query-gpu=${QUERY_FIELDS.join(",")}`,
  "--format=csv,noheader,nounits",
];

/** One row of the query. */
export interface QueryRow {
  index: number;
  uuid: string;
  name: string;
  memoryMiB: number;
  /** sysfs form: `0000:3b:00.0`. */
  pciBusId: string;
  /** Set when a field holds an error marker (`[GPU is lost]`, `[Unknown Error]`) instead of a value. */
  error?: string;
}

/** A malformed line in nvidia-smi output; the message quotes it. */
export class NvidiaSmiParseError extends Error {
  override name = "NvidiaSmiParseError";
}

/**
 * nvidia-smi writes an 8-digit PCI domain (`00000000:3B:00.0`); sysfs a 4-digit one in lower case
 * (`0000:3b:00.0`).
 */
export function sysfsBusId(smi: string): string {
  const m = /^([0-9a-fA-F]+):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(smi.trim());
  if (!m) throw new NvidiaSmiParseError(`'${smi}' is not a PCI bus id`);
  const domain = (m[1] ?? "").slice(-4).padStart(4, "0");
  return `${domain}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/** Parses the query's rows; empty lines are skipped, a short or malformed row throws. */
export function parseQuery(text: string): QueryRow[] {
  const rows: QueryRow[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== QUERY_FIELDS.length)
      throw new NvidiaSmiParseError(
        `nvidia-smi query row '${line}' has ${cells.length} fields, expected ${QUERY_FIELDS.length} (${QUERY_FIELDS.join(", ")})`,
      );
    const [index, uuid, name, memory, bus] = cells as [string, string, string, string, string];
    if (!/^\d+$/.test(index) || !/^GPU-[0-9a-fA-F-]+$/.test(uuid))
      throw new NvidiaSmiParseError(`nvidia-smi query row '${line}' has no index and GPU uuid`);
    const error = cells.find((c) => /^\[.*\]$/.test(c));
    const memoryMiB = /^\d+$/.test(memory) ? Number(memory) : 0;
    rows.push({
      index: Number(index),
      uuid,
      name,
      memoryMiB,
      pciBusId: error && /^\[/.test(bus) ? "" : sysfsBusId(bus),
      ...(error ? { error } : {}),
    });
  }
  return rows.sort((a, b) => a.index - b.index);
}

/** What `topo -m` says about the GPUs. */
export interface Topology {
  /** For each GPU index, the indexes it has NVLinks to. */
  nvlinks: Map<number, number[]>;
  /** For each GPU index, the "NUMA Affinity" column when it holds one node number. */
  numa: Map<number, number>;
}

/**
 * Parses the `topo -m` matrix: the header names the columns (`GPU0`…, `NIC0`…, `CPU Affinity`,
 * `NUMA Affinity`, …); each `GPU<n>` row has one cell per column. The legend after the matrix
 * is ignored.
 */
export function parseTopology(text: string): Topology {
  // eslint-disable-next-line no-control-regex -- colour codes, when nvidia-smi thinks it writes to a tty
  const lines = text.split("\n").map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));
  const headerAt = lines.findIndex((l) => /^\s+GPU0\b/.test(l) || /^\tGPU0\b/.test(l));
  const nvlinks = new Map<number, number[]>();
  const numa = new Map<number, number>();
  if (headerAt < 0) return { nvlinks, numa };
  const columns = (lines[headerAt] ?? "")
    .split("\t")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  for (const line of lines.slice(headerAt + 1)) {
    const row = /^GPU(\d+)\s/.exec(line);
    if (!row) {
      if (line.trim() === "" || /^Legend/.test(line.trim())) break;
      continue;
    }
    const self = Number(row[1]);
    const cells = line
      .split("\t")
      .slice(1)
      .map((c) => c.trim());
    const peers: number[] = [];
    columns.forEach((column, i) => {
      const cell = cells[i] ?? "";
      const peer = /^GPU(\d+)$/.exec(column);
      if (peer && /^NV\d+$/.test(cell) && Number(peer[1]) !== self) peers.push(Number(peer[1]));
      if (column === "NUMA Affinity" && /^\d+$/.test(cell)) numa.set(self, Number(cell));
    });
    nvlinks.set(self, peers);
  }
  return { nvlinks, numa };
}
