import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary } from "./find-binary.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "soulbox-find-binary-"));
  for (const d of ["a", "b", "c"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "a/tool"), "data, not executable");
  writeFileSync(join(dir, "b/tool"), "#!/bin/sh\n");
  chmodSync(join(dir, "b/tool"), 0o755);
  writeFileSync(join(dir, "c/tool"), "#!/bin/sh\n");
  chmodSync(join(dir, "c/tool"), 0o755);
  mkdirSync(join(dir, "c/subdir"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("findBinary", () => {
  it.each<[string, () => string | undefined, () => string | undefined]>([
    ["first executable on PATH wins", () => `${dir}/a:${dir}/b:${dir}/c`, () => `${dir}/b/tool`],
    ["empty and relative entries are skipped", () => `::relative:${dir}/c`, () => `${dir}/c/tool`],
    ["not on PATH", () => `${dir}/a`, () => undefined],
    ["no PATH at all", () => undefined, () => undefined],
  ])("%s", async (_name, path, expected) => {
    expect(await findBinary("tool", path())).toBe(expected());
  });

  it("takes a name with a slash as an absolute path", async () => {
    expect(await findBinary(`${dir}/c/tool`, "")).toBe(`${dir}/c/tool`);
    expect(await findBinary("c/tool", dir)).toBeUndefined();
  });

  it("a directory is not a binary", async () => {
    expect(await findBinary("subdir", `${dir}/c`)).toBeUndefined();
  });
});
