import type { GpuDevice } from "./inventory.js";
import { preferredAllocation } from "./preferred.js";

/** 8 GPUs: 0–3 on NUMA 0, 4–7 on NUMA 1, NVLinked in pairs (0,1) (2,3) (4,5) (6,7). */
const devices: GpuDevice[] = Array.from({ length: 8 }, (_, i) => ({
  index: i,
  uuid: `g${i}`,
  name: "H100",
  memoryMiB: 80_000,
  pciBusId: `0000:0${i}:00.0`,
  numaNode: i < 4 ? 0 : 1,
  nvlinkPeers: [`g${i ^ 1}`],
}));
const ids = (...n: number[]) => n.map((i) => `g${i}`);

test.each<
  [string, { available: number[]; must?: number[]; size: number; pinned?: number[][] }, number[]]
>([
  [
    "1 of all: the lowest index on the tightest NUMA node",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 1 },
    [0],
  ],
  [
    "2 of all: an NVLinked pair on one NUMA node",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 2 },
    [0, 1],
  ],
  [
    "2 when NUMA 0 has 3 free and NUMA 1 has 4: best fit takes NUMA 0, the intact pair",
    { available: [1, 2, 3, 4, 5, 6, 7], size: 2 },
    [2, 3],
  ],
  [
    "1 when NUMA 0 has a lone GPU and a pair: the lone one (no pair broken)",
    { available: [1, 2, 3, 4, 5, 6, 7], size: 1 },
    [1],
  ],
  ["4: a whole NUMA node", { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 4 }, [0, 1, 2, 3]],
  [
    "4 when NUMA 0 has 3: all of NUMA 1",
    { available: [0, 2, 3, 4, 5, 6, 7], size: 4 },
    [4, 5, 6, 7],
  ],
  [
    "5: no NUMA node holds it, the fullest first, pairs kept together",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 5 },
    [0, 1, 2, 3, 4],
  ],
  [
    "must-include pulls the rest onto its NUMA node, its NVLink peer first",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], must: [5], size: 2 },
    [5, 4],
  ],
  [
    "a pinned set (a bound GpuAllocation) wins over the NUMA choice",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 2, pinned: [[6, 7]] },
    [6, 7],
  ],
  [
    "a pinned set that is not all available, or of another size, is ignored",
    {
      available: [0, 1, 2, 3, 4, 5, 7],
      size: 2,
      pinned: [
        [6, 7],
        [4, 5, 7],
      ],
    },
    [4, 5], // best fit: NUMA 1 has 3 free, NUMA 0 has 4
  ],
  [
    "the first fitting pinned set in order (the longest-bound first)",
    {
      available: [0, 1, 2, 3, 4, 5, 6, 7],
      size: 2,
      pinned: [
        [4, 5],
        [2, 3],
      ],
    },
    [4, 5],
  ],
])("%s", (_what, r, want) => {
  const got = preferredAllocation(
    devices,
    { available: ids(...r.available), mustInclude: ids(...(r.must ?? [])), size: r.size },
    (r.pinned ?? []).map((p) => ids(...p)),
  );
  expect(got).toEqual(ids(...want));
});

test("ids the inventory does not know are used last, so the answer still has `size` ids", () => {
  expect(
    preferredAllocation(devices, { available: ["x", "g0"], mustInclude: [], size: 2 }),
  ).toEqual(["g0", "x"]);
});

test("no NVLinks and no NUMA: the lowest indexes", () => {
  const plain = devices.map((d) => ({ ...d, nvlinkPeers: [], numaNode: undefined }));
  expect(
    preferredAllocation(plain, { available: ids(7, 3, 5, 1), mustInclude: [], size: 2 }),
  ).toEqual(ids(1, 3));
});
