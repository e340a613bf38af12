import {
  WireError,
  decodeJupyter,
  encodeJupyter,
  makeHeader,
  type JupyterMessage,
} from "./wire.js";

const msg = (): JupyterMessage => ({
  header: makeHeader("execute_request", "s1"),
  parent_header: {},
  metadata: {},
  content: { code: "1+1" },
});

describe("the Jupyter wire format", () => {
  it("round-trips a signed message, skipping identities before the delimiter", () => {
    const m = msg();
    const frames = encodeJupyter("k", m);
    expect(decodeJupyter("k", [Buffer.from("routing-id"), ...frames])).toEqual(m);
  });

  it("signs with HMAC-SHA256 over the four JSON parts (hex)", () => {
    const frames = encodeJupyter("k", msg());
    expect(frames[1]?.toString()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("leaves the signature empty without a key", () => {
    expect(encodeJupyter("", msg())[1]?.length).toBe(0);
  });

  const bad: Array<[string, (f: Buffer[]) => Buffer[], RegExp]> = [
    ["no delimiter", (f) => f.slice(1), /delimiter/],
    ["a bad signature", (f) => [f[0]!, Buffer.from("0".repeat(64)), ...f.slice(2)], /signature/],
    ["a missing part", (f) => f.slice(0, 4), /four parts/],
    ["a part that is not JSON", (f) => [...f.slice(0, 5), Buffer.from("{")], /signature|JSON/],
  ];
  it.each(bad)("refuses %s", (_name, spoil, message) => {
    const frames = spoil(encodeJupyter("k", msg()));
    expect(() => decodeJupyter("k", frames)).toThrow(WireError);
    expect(() => decodeJupyter("k", frames)).toThrow(message);
  });

  it("refuses a part that is not JSON when unsigned", () => {
    const f = encodeJupyter("", msg());
    expect(() => decodeJupyter("", [...f.slice(0, 5), Buffer.from("{")])).toThrow(/not JSON/);
  });
});
