import { canonicalHash, canonicalJson } from "./canonical-json.js";

test.each<[string, unknown, string]>([
  [
    "keys sorted at every level",
    { b: 1, a: { d: [{ z: 1, y: 2 }], c: null } },
    '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
  ],
  ["undefined members left out", { a: undefined, b: 2 }, '{"b":2}'],
  ["arrays keep their order", [3, 1, 2], "[3,1,2]"],
  ["code-unit order, not locale order", { B: 1, a: 2, _: 3 }, '{"B":1,"_":3,"a":2}'],
])("canonicalJson: %s", (_what, value, want) => {
  expect(canonicalJson(value)).toBe(want);
});

test("canonicalHash ignores key order and sees every value", () => {
  expect(canonicalHash({ a: 1, b: [1, 2] })).toBe(canonicalHash({ b: [1, 2], a: 1 }));
  expect(canonicalHash({ a: 1, b: [1, 2] })).not.toBe(canonicalHash({ a: 1, b: [2, 1] }));
  expect(canonicalHash({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  expect(canonicalHash({ a: 1 }, 64)).toHaveLength(64);
});
