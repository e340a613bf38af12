import { CommandExitError, type CommandHandle } from "e2b";
import { eventually, startSdkHarness, type SdkHarness } from "./sandbox.js";

let h: SdkHarness;
beforeAll(async () => {
  h = await startSdkHarness();
});
afterAll(async () => {
  await h.stop();
});

describe("commands through the official e2b SDK", () => {
  test("foreground run returns stdout, stderr and the exit code", async () => {
    const r = await h.sandbox.commands.run("echo out; echo err >&2");
    expect(r).toMatchObject({ exitCode: 0, stdout: "out\n", stderr: "err\n" });
  });

  test("runs as the default user 'user' in its home, as a login shell", async () => {
    const r = await h.sandbox.commands.run(
      'whoami; pwd; echo "$HOME"; shopt -q login_shell && echo login',
    );
    expect(r.stdout).toBe("user\n/home/user\n/home/user\nlogin\n");
  });

  test("user, cwd and envs are honoured", async () => {
    const r = await h.sandbox.commands.run("whoami; pwd; echo $GREETING", {
      user: "root",
      cwd: "/tmp",
      envs: { GREETING: "hello there" },
    });
    expect(r.stdout).toBe("root\n/tmp\nhello there\n");
  });

  test("a failing command throws CommandExitError with its output", async () => {
    const err = await h.sandbox.commands.run("echo partial; exit 7").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err).toMatchObject({ exitCode: 7, stdout: "partial\n" });
  });

  test("onStdout and onStderr stream chunks as they come", async () => {
    const out: string[] = [];
    const errs: string[] = [];
    await h.sandbox.commands.run("for i in 1 2 3; do echo $i; sleep 0.05; done; echo bad >&2", {
      onStdout: (d) => void out.push(d),
      onStderr: (d) => void errs.push(d),
    });
    expect(out.join("")).toBe("1\n2\n3\n");
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(errs.join("")).toBe("bad\n");
  });

  test("background commands can be listed, connected to and killed", async () => {
    const handle: CommandHandle = await h.sandbox.commands.run("echo started; sleep 60", {
      background: true,
    });
    const listed = await h.sandbox.commands.list();
    expect(listed.map((p) => p.pid)).toContain(handle.pid);

    const seen: string[] = [];
    const again = await h.sandbox.commands.connect(handle.pid, {
      onStdout: (d) => void seen.push(d),
    });
    expect(again.pid).toBe(handle.pid);

    expect(await h.sandbox.commands.kill(handle.pid)).toBe(true);
    const err = await again.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect((err as CommandExitError).error).toMatch(/signal: killed/);
    await eventually(async () =>
      (await h.sandbox.commands.list()).some((p) => p.pid === handle.pid) ? undefined : true,
    );
    expect(await h.sandbox.commands.kill(handle.pid)).toBe(false);
  });

  test("output written while nobody is attached reaches the next connect", async () => {
    const handle = await h.sandbox.commands.run("sleep 0.5; echo while-away; sleep 0.5", {
      background: true,
    });
    await handle.disconnect();
    await new Promise((r) => setTimeout(r, 700)); // let the output happen while detached
    const out: string[] = [];
    const again = await h.sandbox.commands.connect(handle.pid, {
      onStdout: (d) => void out.push(d),
    });
    await again.wait();
    expect(out.join("")).toBe("while-away\n");
  });

  test("stdin: sendStdin and closeStdin", async () => {
    const handle = await h.sandbox.commands.run("cat", { background: true, stdin: true });
    await h.sandbox.commands.sendStdin(handle.pid, "line one\n");
    await h.sandbox.commands.sendStdin(handle.pid, "line two\n");
    await h.sandbox.commands.closeStdin(handle.pid);
    const r = await handle.wait();
    expect(r.stdout).toBe("line one\nline two\n");
  });

  test("a command timeout kills the process", async () => {
    const err = await h.sandbox.commands
      .run("sleep 30", { timeoutMs: 1000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await eventually(async () =>
      (await h.sandbox.commands.list()).some((p) => p.cmd.includes("sleep 30")) ? undefined : true,
    );
  });

  test.each([
    ["a cwd that does not exist", { cwd: "/no/such/dir" }, /cwd '\/no\/such\/dir' does not exist/],
    ["a user that does not exist", { user: "nosuchuser" }, /user 'nosuchuser' does not exist/],
  ])("%s is refused with a clear message", async (_name, opts, message) => {
    await expect(h.sandbox.commands.run("true", opts)).rejects.toThrow(message);
  });

  test("unknown pids are reported as not found", async () => {
    expect(await h.sandbox.commands.kill(999_999)).toBe(false);
    await expect(h.sandbox.commands.connect(999_999)).rejects.toThrow(/999999 not found/);
  });
});
