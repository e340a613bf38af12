import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classifyChange, watchDirectory, type FsEvent } from "./dir-watcher.js";

const k = (
  o: Partial<{
    ino: number;
    mode: number;
    uid: number;
    gid: number;
    mtimeMs: number;
    size: number;
  }>,
) => ({
  ino: 1,
  mode: 0o100644,
  uid: 0,
  gid: 0,
  mtimeMs: 1,
  size: 1,
  ...o,
});

describe("classifyChange", () => {
  test.each([
    ["unknown before", undefined, k({}), "write"],
    ["content changed", k({}), k({ mtimeMs: 2 }), "write"],
    ["size changed", k({}), k({ size: 9 }), "write"],
    ["mode changed", k({}), k({ mode: 0o100600 }), "chmod"],
    ["owner changed", k({}), k({ uid: 1000 }), "chmod"],
    ["nothing visible changed", k({}), k({}), "write"],
  ])("%s", (_n, before, after, expected) => {
    expect(classifyChange(before, after)).toBe(expected);
  });
});

describe("watchDirectory", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "watch-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function until(events: FsEvent[], want: [string, FsEvent["type"]][]) {
    const deadline = Date.now() + 5000;
    while (!want.every(([n, t]) => events.some((e) => e.name === n && e.type === t))) {
      if (Date.now() > deadline)
        throw new Error(
          `missing events; got ${JSON.stringify(events.map((e) => [e.name, e.type]))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test("reports create, write, chmod, rename and remove of real files", async () => {
    const events: FsEvent[] = [];
    const w = await watchDirectory(
      dir,
      true,
      (e) => events.push(e),
      (err) => events.push({ name: String(err), type: "remove", path: "" }),
    );
    try {
      execFileSync("bash", ["-c", `cd ${dir} && mkdir sub && echo early > sub/early`]);
      await until(events, [
        ["sub", "create"],
        ["sub/early", "create"],
      ]);
      execFileSync("bash", [
        "-c",
        `cd ${dir} && echo x > sub/a && echo y >> sub/a && chmod 600 sub/a && mv sub/a sub/b && rm sub/b`,
      ]);
      await until(events, [
        ["sub/a", "create"],
        ["sub/a", "write"],
        ["sub/a", "rename"],
        ["sub/b", "create"],
        ["sub/b", "remove"],
      ]);
    } finally {
      w.close();
    }
  });

  test("refuses a file and a missing path", async () => {
    execFileSync("touch", [join(dir, "f")]);
    await expect(
      watchDirectory(
        join(dir, "f"),
        false,
        () => undefined,
        () => undefined,
      ),
    ).rejects.toThrow(/not a directory/);
    await expect(
      watchDirectory(
        join(dir, "nope"),
        false,
        () => undefined,
        () => undefined,
      ),
    ).rejects.toThrow(/no such file/);
  });
});
