/**
 * Reattaching to a command that has run for ten minutes works (E2B's own envd
 * fails at this after about two minutes). The test really waits: set
 * SOULBOX_REATTACH_SECONDS to shorten it while developing; CI uses 600.
 */
import { startSdkHarness, type SdkHarness } from "./sandbox.js";

const seconds = Number(process.env.SOULBOX_REATTACH_SECONDS ?? "600");

let h: SdkHarness;
beforeAll(async () => {
  h = await startSdkHarness();
});
afterAll(async () => {
  await h.stop();
});

test(
  `reattaches by pid to a command that has run for ${seconds} s and gets its output and exit`,
  async () => {
    const handle = await h.sandbox.commands.run(`echo early; sleep ${seconds}; echo late; exit 4`, {
      background: true,
      timeoutMs: 0,
    });
    await handle.disconnect();
    await new Promise((r) => setTimeout(r, Math.max(0, seconds - 5) * 1000));

    const listed = await h.sandbox.commands.list();
    expect(listed.map((p) => p.pid)).toContain(handle.pid);
    const out: string[] = [];
    const again = await h.sandbox.commands.connect(handle.pid, {
      onStdout: (d) => void out.push(d),
      timeoutMs: 0,
    });
    const err = await again.wait().catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 4 });
    // "early" went to the first client unless it disconnected before it came; never twice, never lost.
    expect(out.join("")).toMatch(/^(early\n)?late\n$/);
  },
  (seconds + 120) * 1000,
);
