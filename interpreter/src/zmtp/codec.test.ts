import {
  FrameDecoder,
  ZmtpError,
  checkGreeting,
  encodeFrame,
  encodeMessage,
  greeting,
  parseCommand,
  parseProperties,
  readyCommand,
} from "./codec.js";

describe("ZMTP greeting", () => {
  it("is 64 bytes: signature, version 3.0, NULL, client", () => {
    const g = greeting();
    expect(g.length).toBe(64);
    expect([g[0], g[9], g[10], g[11], g[32]]).toEqual([0xff, 0x7f, 3, 0, 0]);
    expect(g.subarray(12, 16).toString()).toBe("NULL");
    expect(() => checkGreeting(g)).not.toThrow();
  });

  const bad: Array<[string, (g: Buffer) => void, RegExp]> = [
    ["no signature", (g) => (g[0] = 0), /signature/],
    ["ZMTP 2", (g) => (g[10] = 2), /ZMTP 2\.x/],
    ["CURVE", (g) => g.write("CURVE\0\0\0", 12), /CURVE mechanism/],
  ];
  it.each(bad)("refuses %s", (_name, spoil, message) => {
    const g = greeting();
    spoil(g);
    expect(() => checkGreeting(g)).toThrow(message);
    expect(() => checkGreeting(g)).toThrow(ZmtpError);
  });
});

describe("ZMTP frames", () => {
  const sizes = [0, 1, 255, 256, 70_000];
  it.each(sizes)("a %i-byte body survives encoding, fed one byte at a time", (size) => {
    const body = Buffer.alloc(size, 7);
    const wire = Buffer.concat([encodeFrame(body, true), encodeFrame(Buffer.from("x"), false)]);
    const d = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < wire.length; i += size > 1000 ? 997 : 1)
      frames.push(...d.push(wire.subarray(i, i + (size > 1000 ? 997 : 1))));
    expect(frames.map((f) => [f.body.length, f.more, f.command])).toEqual([
      [size, true, false],
      [1, false, false],
    ]);
    expect(frames[0]?.body.equals(body)).toBe(true);
  });

  it("uses the short form up to 255 bytes and the long form above", () => {
    expect(encodeFrame(Buffer.alloc(255), false).length).toBe(257);
    expect(encodeFrame(Buffer.alloc(256), false)[0]).toBe(0x02);
    expect(encodeFrame(Buffer.alloc(256), false).length).toBe(265);
  });

  it("marks every frame of a message but the last with MORE", () => {
    const d = new FrameDecoder();
    const frames = d.push(encodeMessage([Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]));
    expect(frames.map((f) => f.more)).toEqual([true, true, false]);
  });

  it("reads READY's properties back, names case-insensitive", () => {
    const [frame] = new FrameDecoder().push(readyCommand("DEALER"));
    expect(frame?.command).toBe(true);
    const cmd = parseCommand(frame!.body);
    expect(cmd.name).toBe("READY");
    expect(parseProperties(cmd.data).get("socket-type")).toBe("DEALER");
  });

  it("refuses properties cut short", () => {
    const cmd = parseCommand(new FrameDecoder().push(readyCommand("SUB"))[0]!.body);
    expect(() => parseProperties(cmd.data.subarray(0, cmd.data.length - 1))).toThrow(/cut short/);
  });
});
