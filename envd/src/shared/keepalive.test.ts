import { keepaliveIntervalMs, withKeepalive } from "./keepalive.js";

describe("keepaliveIntervalMs", () => {
  test.each([
    [null, undefined],
    ["50", 50_000],
    ["0", undefined],
    ["-1", undefined],
    ["soon", undefined],
    ["0.01", 100],
  ])("%s → %s", (value, expected) => {
    const headers = new Headers();
    if (value !== null) headers.set("Keepalive-Ping-Interval", value);
    expect(keepaliveIntervalMs(headers)).toBe(expected);
  });
});

describe("withKeepalive", () => {
  test("fills quiet gaps with keepalives and passes items through in order", async () => {
    async function* slow() {
      yield 1;
      await new Promise((r) => setTimeout(r, 350));
      yield 2;
    }
    const out: (number | "ka")[] = [];
    for await (const v of withKeepalive(slow(), 100, () => "ka" as const)) out.push(v);
    expect(out[0]).toBe(1);
    expect(out.at(-1)).toBe(2);
    expect(out.filter((v) => v === "ka").length).toBeGreaterThanOrEqual(2);
  });

  test("without an interval it is the source unchanged", async () => {
    async function* src() {
      yield* [1, 2, 3];
    }
    const out: unknown[] = [];
    for await (const v of withKeepalive(src(), undefined, () => "ka")) out.push(v);
    expect(out).toEqual([1, 2, 3]);
  });
});
