import { chooseDevices, type ChoosableDevice } from "./gpu-choice.js";

/** 8 GPUs: 0–3 on NUMA 0, 4–7 on NUMA 1, NVLinked in pairs (0,1) (2,3) (4,5) (6,7). */
const devices: ChoosableDevice[] = Array.from({ length: 8 }, (_, i) => ({
  uuid: `g${i}`,
  index: i,
  numaNode: i < 4 ? 0 : 1,
  nvlinkPeers: [`g${i ^ 1}`],
}));
const ids = (...n: number[]) => n.map((i) => `g${i}`);

test.each<
  [
    string,
    { available: number[]; size: number; singleNuma?: boolean; nvlink?: boolean; must?: number[] },
    number[] | undefined,
  ]
>([
  [
    "singleNuma 2 of a NUMA split 1 + 1: none",
    { available: [0, 4], size: 2, singleNuma: true },
    undefined,
  ],
  ["without singleNuma the same request spreads", { available: [0, 4], size: 2 }, [0, 4]],
  [
    "singleNuma 3: the node with 3 free (best fit)",
    { available: [0, 1, 2, 3, 4, 5, 6], size: 3, singleNuma: true },
    [4, 5, 6],
  ],
  [
    "singleNuma 5 of 8: none",
    { available: [0, 1, 2, 3, 4, 5, 6, 7], size: 5, singleNuma: true },
    undefined,
  ],
  [
    "nvlink 2 where only unpaired GPUs are free: none",
    { available: [0, 2, 4, 6], size: 2, nvlink: true },
    undefined,
  ],
  ["nvlink 2: the only intact pair", { available: [0, 2, 4, 5], size: 2, nvlink: true }, [4, 5]],
  [
    "nvlink 4 on NUMA 1: two pairs",
    { available: [1, 4, 5, 6, 7], size: 4, nvlink: true },
    [4, 5, 6, 7],
  ],
  [
    "singleNuma with must-include devices on two NUMA nodes: none",
    { available: [1], must: [0, 4], size: 3, singleNuma: true },
    undefined,
  ],
  ["too few available: none", { available: [0], size: 2 }, undefined],
])("%s", (_what, c, want) => {
  const got = chooseDevices(devices, {
    available: ids(...c.available),
    mustInclude: ids(...(c.must ?? [])),
    size: c.size,
    singleNuma: c.singleNuma,
    nvlink: c.nvlink,
  });
  expect(got).toEqual(want && ids(...want));
});

test("devices without a NUMA node count as one node", () => {
  const flat = devices.map(({ numaNode: _n, ...d }) => d);
  expect(chooseDevices(flat, { available: ids(0, 4, 6), size: 2, singleNuma: true })).toEqual(
    ids(0, 4),
  );
});
