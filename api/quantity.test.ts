import { compareQuantities, parseQuantity } from "./quantity.js";

describe("parseQuantity", () => {
  test.each<[string | number, bigint, bigint]>([
    ["1", 1n, 1n],
    ["500m", 500n, 1000n],
    ["0.5", 5n, 10n],
    [".5", 5n, 10n],
    ["1.", 1n, 1n],
    ["1Ki", 1024n, 1n],
    ["1Gi", 1073741824n, 1n],
    ["1.5Gi", 15n * 1073741824n, 10n],
    ["2k", 2000n, 1n],
    ["1M", 1000000n, 1n],
    ["1E", 10n ** 18n, 1n],
    ["1e3", 1000n, 1n],
    ["1E3", 1000n, 1n],
    ["5e-3", 5n, 1000n],
    ["+2", 2n, 1n],
    ["-2", -2n, 1n],
    [2, 2n, 1n],
    [0.25, 25n, 100n],
    [1e21, 10n ** 21n, 1n],
  ])("%s", (text, num, den) => {
    const q = parseQuantity(text);
    expect(q).toBeDefined();
    // Compare as fractions: the representation need not be reduced.
    expect(q && q.num * den).toBe(q && num * q.den);
  });

  test.each<[string | number]>([
    [""],
    ["abc"],
    ["1 Gi"],
    ["1gi"],
    ["1GB"],
    ["1.2.3"],
    ["e3"],
    ["1e"],
    ["1e999"],
    ["0x10"],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
  ])("refuses %s", (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe("compareQuantities", () => {
  test.each<[string, string, -1 | 0 | 1]>([
    ["100m", "0.1", 0],
    ["1Gi", "1073741824", 0],
    ["1G", "1Gi", -1],
    ["2", "1500m", 1],
    ["1e3", "1k", 0],
    ["-1", "0", -1],
  ])("%s vs %s", (a, b, expected) => {
    const qa = parseQuantity(a);
    const qb = parseQuantity(b);
    if (!qa || !qb) throw new Error("test quantities must parse");
    expect(compareQuantities(qa, qb)).toBe(expected);
  });
});
