import type { PublishedDevice } from "../../../api/gpu.js";
import { placeGpus, type GpuNode, type GpuRequest } from "./placement.js";

/** A node of 8 H100s: 0–3 on NUMA 0, 4–7 on NUMA 1, NVLinked in pairs. */
const node = (name: string, over: Partial<PublishedDevice> = {}, n = 8): GpuNode => ({
  name,
  devices: Array.from({ length: n }, (_, i) => ({
    uuid: `${name}-g${i}`,
    index: i,
    product: "NVIDIA-H100-80GB-HBM3",
    memoryMiB: 81559,
    numaNode: i < n / 2 ? 0 : 1,
    nvlinkPeers: [`${name}-g${i ^ 1}`],
    healthy: true,
    ...over,
  })),
});
const req = (r: Partial<GpuRequest>): GpuRequest => ({
  count: 2,
  singleNuma: false,
  nvlink: false,
  ...r,
});
const taken = (node: string, ...i: number[]) =>
  new Map([[node, new Set(i.map((x) => `${node}-g${x}`))]]);
const where = (p: ReturnType<typeof placeGpus>) =>
  "node" in p
    ? `${p.node}:${p.devices.map((d) => d.index).join(",")}`
    : `${p.reason}${p.permanent ? "!" : ""}: ${p.message}`;

test.each<[string, GpuRequest, GpuNode[], Map<string, Set<string>>, string]>([
  [
    "2 sameNuma on an empty node: an NVLinked pair on NUMA 0",
    req({ singleNuma: true }),
    [node("a")],
    new Map(),
    "a:0,1",
  ],
  [
    "2 sameNuma when NUMA 0 has 1 left: NUMA 1",
    req({ singleNuma: true }),
    [node("a")],
    taken("a", 0, 1, 2),
    "a:4,5",
  ],
  [
    "best fit across nodes: the node with fewer free GPUs",
    req({}),
    [node("a"), node("b")],
    taken("b", 0, 1, 2, 3),
    "b:4,5",
  ],
  [
    "a third sameNuma request of 3 that cannot fit now: Pending with the reason",
    req({ count: 3, singleNuma: true }),
    [node("a")],
    taken("a", 0, 1, 4, 5),
    "InsufficientFreeGpus: no node has 3 free GPUs on one NUMA node (a: 2 free on NUMA node 0, 2 free on NUMA node 1)",
  ],
  [
    "an unhealthy device is skipped",
    req({ count: 1 }),
    [{ name: "a", devices: node("a").devices.map((d, i) => ({ ...d, healthy: i !== 0 })) }],
    new Map(),
    "a:1",
  ],
  [
    "an unknown product: Failed",
    req({ product: "A100" }),
    [node("a")],
    new Map(),
    "UnknownProduct!: no node has GPUs of product A100 (the nodes have NVIDIA-H100-80GB-HBM3)",
  ],
  [
    "5 on one NUMA node of 4: Failed",
    req({ count: 5, singleNuma: true }),
    [node("a")],
    new Map(),
    "Unsatisfiable!: no node has 5 GPUs on one NUMA node, even with all its GPUs free",
  ],
  [
    "memory below the minimum: Failed",
    req({ minMemoryMiB: 100_000 }),
    [node("a")],
    new Map(),
    "Unsatisfiable!: no node has 2 GPUs, with 100000 MiB or more each, even with all its GPUs free",
  ],
  [
    "NVLink wanted where only broken pairs are free: Pending",
    req({ nvlink: true }),
    [node("a")],
    taken("a", 0, 2, 4, 6),
    "InsufficientFreeGpus: no node has 2 free GPUs, NVLinked (a: 2 free on NUMA node 0, 2 free on NUMA node 1)",
  ],
  [
    "no GPU nodes: Pending",
    req({}),
    [{ name: "cpu", devices: [] }],
    new Map(),
    "NoGpuNodes: no node publishes GPUs (is the SoulBox device plugin running on the GPU nodes?)",
  ],
])("%s", (_what, r, nodes, held, want) => {
  expect(where(placeGpus(r, nodes, held))).toBe(want);
});
