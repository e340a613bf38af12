import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscoveryError, discover, fakeSource, mergeGone } from "./discover.js";
import { fakeUuid, writeFakeInventory } from "./fake-inventory.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpu-discover-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test("a fake inventory of 8 GPUs: NUMA 0 and 1 from sysfs, NVLinked pairs from topo", async () => {
  await writeFakeInventory(dir, { gpus: 8, deviceNodes: false });
  const inv = await discover(fakeSource(dir));
  expect(inv.devices.map((d) => [d.index, d.numaNode])).toEqual([
    [0, 0],
    [1, 0],
    [2, 0],
    [3, 0],
    [4, 1],
    [5, 1],
    [6, 1],
    [7, 1],
  ]);
  expect(inv.devices[0]).toMatchObject({
    uuid: fakeUuid(0),
    name: "NVIDIA H100 80GB HBM3",
    memoryMiB: 81559,
    pciBusId: "0000:18:00.0",
    nvlinkPeers: [fakeUuid(1)],
  });
  expect(inv.devices[5]?.nvlinkPeers).toEqual([fakeUuid(4)]);
  expect(inv.unhealthy.size).toBe(0);
});

test("sysfs wins over topo's NUMA column; -1 in sysfs falls back to it", async () => {
  const q = "0, GPU-aa, T4, 15360, 00000000:01:00.0\n1, GPU-bb, T4, 15360, 00000000:02:00.0\n";
  await writeFile(join(dir, "query.csv"), q);
  await writeFile(
    join(dir, "topo.txt"),
    "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tSYS\t0-3\t1\nGPU1\tSYS\t X \t4-7\t1\n",
  );
  for (const [bus, numa] of [
    ["0000:01:00.0", "0"],
    ["0000:02:00.0", "-1"],
  ] as const) {
    await mkdir(join(dir, "sys/bus/pci/devices", bus), { recursive: true });
    await writeFile(join(dir, "sys/bus/pci/devices", bus, "numa_node"), `${numa}\n`);
  }
  const inv = await discover(fakeSource(dir));
  expect(inv.devices.map((d) => d.numaNode)).toEqual([0, 1]);
});

test("the unhealthy file and driver error markers make devices unhealthy", async () => {
  await writeFakeInventory(dir, { gpus: 4, deviceNodes: false });
  await writeFile(join(dir, "unhealthy"), `${fakeUuid(2)} XID 79 fell off the bus\nGPU-unknown\n`);
  const inv = await discover(fakeSource(dir));
  expect(Object.fromEntries(inv.unhealthy)).toEqual({ [fakeUuid(2)]: "XID 79 fell off the bus" });
});

test("a device that leaves the list stays, unhealthy (gone)", async () => {
  await writeFakeInventory(dir, { gpus: 4, deviceNodes: false });
  const before = await discover(fakeSource(dir));
  const q = (await import("node:fs/promises")).readFile(join(dir, "query.csv"), "utf8");
  await writeFile(
    join(dir, "query.csv"),
    (await q)
      .split("\n")
      .filter((l) => !l.startsWith("3,"))
      .join("\n"),
  );
  const after = mergeGone(before, await discover(fakeSource(dir)));
  expect(after.devices.map((d) => d.index)).toEqual([0, 1, 2, 3]);
  expect([...after.unhealthy.keys()]).toEqual([fakeUuid(3)]);
});

test("no query.csv: a DiscoveryError that names the directory", async () => {
  await expect(discover(fakeSource(dir))).rejects.toThrow(DiscoveryError);
  await expect(discover(fakeSource(dir))).rejects.toThrow(
    `the fake inventory ${dir} has no query.csv`,
  );
});

test.each([0, 65, 1.5])("a fake inventory of %p GPUs is refused", async (n) => {
  await expect(writeFakeInventory(dir, { gpus: n, deviceNodes: false })).rejects.toThrow(
    RangeError,
  );
});
