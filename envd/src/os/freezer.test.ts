import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFreezer, descendantsOf } from "./freezer.js";

describe("descendantsOf", () => {
  test("walks the whole tree below the root and nothing else", () => {
    const parents = new Map([
      [2, 1],
      [3, 2],
      [4, 3],
      [5, 1],
      [6, 99],
    ]);
    expect(descendantsOf(2, parents).sort()).toEqual([3, 4]);
    expect(descendantsOf(1, parents).sort()).toEqual([2, 3, 4, 5]);
    expect(descendantsOf(6, parents)).toEqual([]);
  });
});

describe("createFreezer", () => {
  test("stops and resumes a process tree of this process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "freeze-"));
    const file = join(dir, "ticks");
    const child = spawn("bash", ["-c", `while true; do echo x >> ${file}; sleep 0.02; done`], {
      stdio: "ignore",
    });
    const size = () => readFileSync(file, "utf8").length;
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await wait(200);
      const freezer = createFreezer();
      expect(await freezer.freeze()).toBeGreaterThanOrEqual(1);
      expect(freezer.frozen).toBe(true);
      await wait(100); // let a write that was in flight land
      const frozenAt = size();
      await wait(300);
      expect(size()).toBe(frozenAt);
      await freezer.thaw();
      await wait(300);
      expect(size()).toBeGreaterThan(frozenAt);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
