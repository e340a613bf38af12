/**
 * Which GPUs of a node to give a request: the one rule that the device plugin's
 * GetPreferredAllocation and the operator's GpuAllocation placement share, so the devices the
 * operator reserves are the ones the plugin would prefer anyway. In order of what matters:
 * 1. NUMA-local: all from one NUMA node when one can hold them, the node that fits most tightly
 *    first (best fit keeps whole NUMA nodes free for larger requests), the must-include
 *    devices' node before any;
 * 2. NVLink-connected: within it, the set with the most NVLinks between its members;
 * 3. least fragmentation: of those, the set that breaks the fewest NVLinks between the devices
 *    left free, then the lowest indexes.
 */

/** What the choice needs to know of a device. */
export interface ChoosableDevice {
  uuid: string;
  index: number;
  /** Absent: the machine reports no NUMA affinity (all such devices count as one node). */
  numaNode?: number | undefined;
  nvlinkPeers?: readonly string[] | undefined;
}

/** One request. */
export interface GpuChoice {
  /** The free device ids to choose from. */
  available: readonly string[];
  /** Ids that must be in the answer (the kubelet's must_include_deviceIDs). */
  mustInclude?: readonly string[];
  size: number;
  /** Only an answer from one NUMA node (else: none). */
  singleNuma?: boolean;
  /** Only an answer where every device has an NVLink to another of the set (else: none). */
  nvlink?: boolean;
}

/**
 * The devices to give, in index order with the must-include ones first; undefined when
 * `available` cannot satisfy the request. Ids the inventory does not know are used last, and
 * only without constraints.
 */
export function chooseDevices(
  devices: readonly ChoosableDevice[],
  c: GpuChoice,
): string[] | undefined {
  const byId = new Map(devices.map((d) => [d.uuid, d]));
  const must = [...new Set(c.mustInclude ?? [])];
  const need = c.size - must.length;
  if (need <= 0) return must.slice(0, c.size);
  const free = c.available.filter((id) => !must.includes(id));
  const known = free.filter((id) => byId.has(id));
  const unknown = free.filter((id) => !byId.has(id));
  const numaOf = (id: string) => byId.get(id)?.numaNode ?? -1;
  const groups = new Map<number, string[]>();
  for (const id of known) groups.set(numaOf(id), [...(groups.get(numaOf(id)) ?? []), id]);
  const mustNuma = new Set(must.map(numaOf));
  if (c.singleNuma && mustNuma.size > 1) return undefined;

  const pools = [...groups.entries()]
    .filter(
      ([numa, ids]) => ids.length >= need && (!c.singleNuma || !must.length || mustNuma.has(numa)),
    )
    .sort(
      ([na, a], [nb, b]) =>
        Number(mustNuma.has(nb)) - Number(mustNuma.has(na)) || a.length - b.length || na - nb,
    )
    .map(([, ids]) => ids);
  // Spread over NUMA nodes only when allowed, the fullest nodes first.
  if (!c.singleNuma) pools.push([...groups.values()].sort((a, b) => b.length - a.length).flat());
  for (const pool of pools) {
    if (pool.length < need) continue;
    const set = bestSet(byId, pool, need, must);
    if (c.nvlink && !connected(byId, [...must, ...set])) continue;
    return [...must, ...set];
  }
  if (c.singleNuma || c.nvlink || known.length + unknown.length < need) return undefined;
  return [...must, ...known, ...unknown].slice(0, c.size);
}

/** Every device of `set` has an NVLink to another member (a set of one has nothing to link). */
function connected(byId: Map<string, ChoosableDevice>, set: readonly string[]): boolean {
  if (set.length < 2) return true;
  return set.every((a) =>
    set.some((b) => b !== a && (byId.get(a)?.nvlinkPeers?.includes(b) ?? false)),
  );
}

/** The best `n` of `pool` by NVLinks inside the set (with `must`), then fewest broken, then index. */
function bestSet(
  byId: Map<string, ChoosableDevice>,
  pool: readonly string[],
  n: number,
  must: readonly string[],
): string[] {
  const index = (id: string) => byId.get(id)?.index ?? Number.MAX_SAFE_INTEGER;
  if (n >= pool.length) return [...pool].sort((a, b) => index(a) - index(b));
  const linked = (a: string, b: string) => byId.get(a)?.nvlinkPeers?.includes(b) ?? false;
  const score = (set: string[]) => {
    const members = [...must, ...set];
    let links = 0;
    let broken = 0;
    for (const a of set) {
      for (const b of members) if (a < b && linked(a, b)) links++;
      for (const b of pool) if (!set.includes(b) && linked(a, b)) broken++;
    }
    return { links, broken, indexes: set.map(index).sort((x, y) => x - y) };
  };
  type Score = ReturnType<typeof score>;
  const better = (a: Score, b: Score) =>
    a.links !== b.links
      ? a.links > b.links
      : a.broken !== b.broken
        ? a.broken < b.broken
        : lower(a.indexes, b.indexes);
  let best: { set: string[]; s: Score } | undefined;
  // Greedy growth from every seed: inventories of at most 16 GPUs make this cheap and near-optimal.
  for (const seed of pool) {
    const set = [seed];
    while (set.length < n) {
      let pick: { id: string; s: Score } | undefined;
      for (const id of pool) {
        if (set.includes(id)) continue;
        const s = score([...set, id]);
        if (!pick || better(s, pick.s)) pick = { id, s };
      }
      if (!pick) break;
      set.push(pick.id);
    }
    const s = score(set);
    if (!best || better(s, best.s)) best = { set, s };
  }
  return (best?.set ?? []).sort((a, b) => index(a) - index(b));
}

/** Whether `a` comes before `b`, compared number by number. */
function lower(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0);
  return a.length < b.length;
}
