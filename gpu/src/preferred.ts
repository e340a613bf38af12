/**
 * GetPreferredAllocation's choice, pure: which `size` devices of `available` (with all of
 * `mustInclude`) the kubelet should give a container. In order of what matters:
 * 1. a set reserved for this request by a bound GpuAllocation (see `pins.ts`), when one fits;
 * 2. NUMA-local: all from one NUMA node when one can hold them, the node that fits most tightly
 *    first (best fit leaves whole NUMA nodes free for larger requests);
 * 3. NVLink-connected: within it, the set with the most NVLinks between its members;
 * 4. least fragmentation: of those, the one that breaks the fewest NVLinks between the
 *    remaining free devices, then the lowest indexes.
 */
import type { GpuDevice } from "./inventory.js";

/** One container's request, as the kubelet sends it. */
export interface PreferredRequest {
  available: string[];
  mustInclude: string[];
  size: number;
}

/**
 * The devices to prefer. Never fewer than `size` when `available` has that many (the kubelet
 * would then fall back to its own choice); ids the inventory does not know are used last.
 */
export function preferredAllocation(
  devices: readonly GpuDevice[],
  req: PreferredRequest,
  pinned: readonly (readonly string[])[] = [],
): string[] {
  const byId = new Map(devices.map((d) => [d.uuid, d]));
  const must = [...new Set(req.mustInclude)];
  const offered = new Set([...req.available, ...must]);
  for (const set of pinned)
    if (
      set.length === req.size &&
      must.every((m) => set.includes(m)) &&
      set.every((id) => offered.has(id))
    )
      return [...set];

  const need = req.size - must.length;
  if (need <= 0) return must.slice(0, req.size);
  const free = req.available.filter((id) => !must.includes(id));
  const known = free.filter((id) => byId.has(id));
  const unknown = free.filter((id) => !byId.has(id));

  const numaOf = (id: string) => byId.get(id)?.numaNode ?? -1;
  const groups = new Map<number, string[]>();
  for (const id of known) groups.set(numaOf(id), [...(groups.get(numaOf(id)) ?? []), id]);
  const mustNuma = new Set(must.map(numaOf));
  // NUMA nodes that hold the rest alone; the must-include devices' node first, then best fit.
  const fitting = [...groups.entries()]
    .filter(([, ids]) => ids.length >= need)
    .sort(
      ([na, a], [nb, b]) =>
        Number(mustNuma.has(nb)) - Number(mustNuma.has(na)) || a.length - b.length || na - nb,
    );
  const pool = fitting[0]?.[1];
  if (pool) return [...must, ...bestSet(byId, pool, need, must)];

  // No single NUMA node: fill from the fullest nodes, keeping NVLinked devices together.
  const ordered = [...groups.values()].sort((a, b) => b.length - a.length).flat();
  const picked = bestSet(byId, ordered, Math.min(need, ordered.length), must);
  return [...must, ...picked, ...unknown].slice(0, req.size);
}

/** The best `n` of `pool` by NVLinks inside the set (with `must`), then fewest broken, then index. */
function bestSet(
  byId: Map<string, GpuDevice>,
  pool: readonly string[],
  n: number,
  must: readonly string[],
): string[] {
  if (n >= pool.length) return [...pool];
  const linked = (a: string, b: string) => byId.get(a)?.nvlinkPeers.includes(b) ?? false;
  const index = (id: string) => byId.get(id)?.index ?? Number.MAX_SAFE_INTEGER;
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
  const better = (a: ReturnType<typeof score>, b: ReturnType<typeof score>) =>
    a.links !== b.links
      ? a.links > b.links
      : a.broken !== b.broken
        ? a.broken < b.broken
        : lower(a.indexes, b.indexes);
  let best: { set: string[]; s: ReturnType<typeof score> } | undefined;
  // Greedy growth from every seed: small inventories (≤ 16 GPUs) make this cheap and near-optimal.
  for (const seed of pool) {
    const set = [seed];
    while (set.length < n) {
      let pick: { id: string; s: ReturnType<typeof score> } | undefined;
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
