import { memorySupport, runtimeOfInfo } from "./runtime-support.js";

describe("memorySupport", () => {
  test.each([
    ["io.containerd.runc.v2", true, undefined],
    ["io.containerd.runc.v1", true, undefined],
    ["io.containerd.kata.v2", false, /Kata container runs in a virtual machine/],
    ["io.containerd.kata-qemu.v2", false, /Kata/],
    ["io.containerd.runsc.v1", false, /gVisor/],
    ["io.containerd.wasmtime.v1", false, /only runc-class runtimes/],
    ["", false, /unknown runtime/],
  ])("%s → supported %s", (runtime, supported, why) => {
    const v = memorySupport(runtime);
    expect(v.supported).toBe(supported);
    if (!v.supported) {
      expect(v.reason).toBe("RuntimeNotSupported");
      expect(v.message).toMatch(why ?? /never/);
      expect(v.message).toMatch(/Use pauseMode Filesystem$/);
    }
  });
});

describe("runtimeOfInfo", () => {
  test("reads Runtime.Name", () => {
    expect(
      runtimeOfInfo(
        JSON.stringify({ ID: "x", Runtime: { Name: "io.containerd.kata.v2", Options: {} } }),
      ),
    ).toBe("io.containerd.kata.v2");
  });
  test.each([
    ["{}"],
    [JSON.stringify({ Runtime: { Name: 3 } })],
    [JSON.stringify({ Runtime: {} })],
  ])("refuses %s", (json) => expect(() => runtimeOfInfo(json)).toThrow(/names no runtime/));
  test("refuses what is not JSON", () => expect(() => runtimeOfInfo("nope")).toThrow(SyntaxError));
});
