import { readFileSync } from "node:fs";
import { NvidiaSmiParseError, parseQuery, parseTopology, sysfsBusId } from "./nvidia-smi.js";

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

describe("sysfsBusId", () => {
  test.each([
    ["00000000:18:00.0", "0000:18:00.0"],
    ["00000000:AB:00.0", "0000:ab:00.0"],
    ["0000:3b:00.1", "0000:3b:00.1"],
    ["00000001:C1:00.0", "0001:c1:00.0"],
  ])("%s → %s", (smi, sysfs) => expect(sysfsBusId(smi)).toBe(sysfs));
  test.each(["", "18:00.0", "0000:18:00", "0000:xx:00.0"])("refuses %j", (bad) =>
    expect(() => sysfsBusId(bad)).toThrow(NvidiaSmiParseError),
  );
});

describe("parseQuery", () => {
  test("four H100s, one reporting an error", () => {
    const rows = parseQuery(fixture("query-h100x4.csv"));
    expect(rows.map((r) => [r.index, r.pciBusId, r.memoryMiB, r.error])).toEqual([
      [0, "0000:18:00.0", 81559, undefined],
      [1, "0000:2a:00.0", 81559, undefined],
      [2, "0000:ab:00.0", 81559, undefined],
      [3, "0000:bd:00.0", 0, "[GPU requires reset]"],
    ]);
    expect(rows[0]).toMatchObject({
      uuid: "GPU-9a3f2c1e-0b4d-4e51-a1c2-3d4e5f607182",
      name: "NVIDIA H100 80GB HBM3",
    });
  });
  test("rows come back in index order, blank lines skipped", () => {
    const text = "\n1, GPU-bb, A, 10, 00000000:02:00.0\n\n0, GPU-aa, A, 10, 00000000:01:00.0\n";
    expect(parseQuery(text).map((r) => r.uuid)).toEqual(["GPU-aa", "GPU-bb"]);
  });
  test.each([
    ["a short row", "0, GPU-aa, A, 10", /has 4 fields, expected 5/],
    ["no uuid", "0, abc, A, 10, 00000000:01:00.0", /no index and GPU uuid/],
    ["no index", "x, GPU-aa, A, 10, 00000000:01:00.0", /no index and GPU uuid/],
    ["a bad bus id", "0, GPU-aa, A, 10, pci", /is not a PCI bus id/],
  ])("refuses %s", (_what, text, message) => {
    expect(() => parseQuery(text)).toThrow(message);
  });
});

describe("parseTopology", () => {
  test("NVLink pairs and the NUMA column of a 4-GPU matrix with a NIC and a legend", () => {
    const topo = parseTopology(fixture("topo-h100x4.txt"));
    expect(Object.fromEntries(topo.nvlinks)).toEqual({ 0: [1], 1: [0], 2: [3], 3: [2] });
    expect(Object.fromEntries(topo.numa)).toEqual({ 0: 0, 1: 0, 2: 1, 3: 1 });
  });
  test("colour codes (a tty) do not matter", () => {
    const plain = fixture("topo-h100x4.txt");
    const coloured = plain.replace(/NV18/g, "\x1b[32mNV18\x1b[0m");
    expect(parseTopology(coloured)).toEqual(parseTopology(plain));
  });
  test("no matrix (one GPU, an old driver): nothing known", () => {
    expect(parseTopology("")).toEqual({ nvlinks: new Map(), numa: new Map() });
  });
});
