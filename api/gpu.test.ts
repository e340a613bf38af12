import { parseInventoryAnnotation, productLabel } from "./gpu.js";

test.each([
  ["NVIDIA H100 80GB HBM3", "NVIDIA-H100-80GB-HBM3"],
  ["  Tesla  T4 ", "Tesla-T4"],
])("productLabel(%j) = %j", (name, label) => expect(productLabel(name)).toBe(label));

test.each<[string, string | undefined, number]>([
  ["absent", undefined, 0],
  ["not JSON", "{", 0],
  ["not an array", '{"uuid":"a"}', 0],
  [
    "a malformed device left out",
    '[{"uuid":"a"},{"uuid":"b","index":0,"product":"p","memoryMiB":1,"healthy":true}]',
    1,
  ],
])("parseInventoryAnnotation: %s", (_what, value, n) =>
  expect(parseInventoryAnnotation(value)).toHaveLength(n),
);
