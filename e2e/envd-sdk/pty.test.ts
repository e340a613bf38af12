import { eventually, startSdkHarness, type SdkHarness } from "./sandbox.js";

let h: SdkHarness;
beforeAll(async () => {
  h = await startSdkHarness();
});
afterAll(async () => {
  await h.stop();
});

describe("PTY through the official e2b SDK", () => {
  test("an interactive login bash with TERM, input, resize and exit", async () => {
    let screen = "";
    const decoder = new TextDecoder();
    const term = await h.sandbox.pty.create({
      cols: 80,
      rows: 24,
      onData: (d) => void (screen += decoder.decode(d)),
    });
    expect(term.pid).toBeGreaterThan(0);
    const send = (s: string) => h.sandbox.pty.sendInput(term.pid, new TextEncoder().encode(s));

    await send("echo TERM=$TERM; tput cols; shopt -q login_shell && echo LOGIN\n");
    await eventually(() =>
      screen.includes("TERM=xterm-256color") &&
      /\r?\n80\r?\n/.test(screen) &&
      screen.includes("LOGIN")
        ? true
        : undefined,
    );

    await h.sandbox.pty.resize(term.pid, { cols: 120, rows: 40 });
    screen = "";
    await send("tput cols; tput lines\n");
    await eventually(() => (/120\r?\n40/.test(screen) ? true : undefined));

    await send("exit 5\n");
    const result = await term.wait().catch((e: unknown) => e);
    expect(result).toMatchObject({ exitCode: 5 });
  });

  test("killing a PTY ends it", async () => {
    const term = await h.sandbox.pty.create({ cols: 80, rows: 24, onData: () => undefined });
    expect(await h.sandbox.pty.kill(term.pid)).toBe(true);
    await expect(term.wait()).rejects.toThrow(/signal: killed/);
  });

  test("resizing to zero columns is refused", async () => {
    const term = await h.sandbox.pty.create({ cols: 80, rows: 24, onData: () => undefined });
    try {
      await expect(h.sandbox.pty.resize(term.pid, { cols: 0, rows: 10 })).rejects.toThrow(
        /at least 1x1/,
      );
    } finally {
      await h.sandbox.pty.kill(term.pid);
    }
  });
});
