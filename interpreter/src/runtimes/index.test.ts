import { RUNTIMES, UnknownLanguageError, detectRuntime, runtimeFor } from "./index.js";

describe("runtime by language", () => {
  it.each([
    ["python", "python"],
    ["Python3", "python"],
    ["js", "deno"],
    ["javascript", "deno"],
    ["TS", "typescript"],
    ["node", "node"],
    ["bun", "bun"],
    ["sh", "bash"],
    ["R", "r"],
    ["r", "r"],
    ["Java", "java"],
  ])("%s → %s", (language, runtime) => {
    expect(runtimeFor(language).name).toBe(runtime);
  });

  it("an unknown language names the supported ones", () => {
    expect(() => runtimeFor("cobol")).toThrow(UnknownLanguageError);
    expect(() => runtimeFor("cobol")).toThrow(
      /Unknown language "cobol": supported languages are python, .*typescript.*bash/,
    );
  });

  it("every runtime declares its features and a first language", () => {
    for (const r of RUNTIMES) {
      expect(r.languages.length).toBeGreaterThan(0);
      expect(Object.keys(r.features).sort()).toEqual([
        "packageInstall",
        "permissions",
        "stateful",
        "topLevelAwait",
        "typescript",
      ]);
    }
  });
});

describe("runtime detection", () => {
  const table: Array<[{ fileName?: string; code?: string }, string | undefined]> = [
    [{ fileName: "a.py" }, "python"],
    [{ fileName: "A.PY" }, "python"],
    [{ fileName: "x.ts" }, "typescript"],
    [{ fileName: "x.mjs" }, "node"],
    [{ fileName: "run.sh" }, "bash"],
    [{ fileName: "plot.R" }, "r"],
    [{ fileName: "Main.java" }, "java"],
    [{ code: "#!/usr/bin/env Rscript\n" }, "r"],
    [{ fileName: "README" }, undefined],
    [{ code: "#!/usr/bin/env python3\nprint(1)" }, "python"],
    [{ code: "#!/usr/bin/python3.11\n" }, "python"],
    [{ code: "#!/bin/bash\necho" }, "bash"],
    [{ code: "#!/usr/bin/env -S deno run --allow-all\n" }, "deno"],
    [{ code: "#!/usr/bin/env bun\n" }, "bun"],
    [{ code: "#!/usr/bin/env node\n" }, "node"],
    [{ code: "#!/usr/bin/env ruby\n" }, undefined],
    [{ code: "print(1)" }, undefined],
    [{ fileName: "x.txt", code: "#!/bin/sh\n" }, "bash"],
  ];
  it.each(table)("%j → %s", (input, want) => {
    expect(detectRuntime(input)?.name).toBe(want);
  });
});
