import { labelValue } from "./labels.js";

const VALID = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe("labelValue", () => {
  test.each([["sbx1"], ["my-sandbox.v2"], ["a".repeat(63)]])("keeps %s", (name) => {
    expect(labelValue(name)).toBe(name);
  });

  test.each([
    ["a".repeat(64)],
    ["x".repeat(300)],
    ["-leading"],
    ["has space"],
    ["ünicode"],
    ["..."],
  ])("makes %s a valid label value", (name) => {
    const v = labelValue(name);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(VALID);
  });

  test("distinct long names stay distinct", () => {
    expect(labelValue(`${"a".repeat(70)}1`)).not.toBe(labelValue(`${"a".repeat(70)}2`));
  });
});
