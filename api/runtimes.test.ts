import { RUNTIMES, detectRuntime } from "../interpreter/src/runtimes/index.js";
import {
  RUNTIME_TABLE,
  detectRuntimeSpec,
  oneShotArgs,
  runtimeByName,
  runtimeNames,
} from "./runtimes.js";

describe("runtime by name or language", () => {
  it.each([
    ["python", "python"],
    [" Python3 ", "python"],
    ["py", "python"],
    ["js", "deno"],
    ["TS", "typescript"],
    ["nodejs", "node"],
    ["bun", "bun"],
    ["shell", "bash"],
    ["R", "r"],
    ["java", "java"],
    ["workerd", "edge"],
  ])("%j → %s", (name, runtime) => {
    expect(runtimeByName(name)?.name).toBe(runtime);
  });

  it.each(["cobol", "", "pythonn"])("%j → none", (name) => {
    expect(runtimeByName(name)).toBeUndefined();
  });
});

describe("detection from file name or shebang", () => {
  it.each<[string | undefined, string | undefined, string | undefined]>([
    ["main.py", undefined, "python"],
    ["DIR/Main.PY", undefined, "python"],
    ["app.mjs", undefined, "node"],
    ["mod.ts", undefined, "typescript"],
    ["run.sh", undefined, "bash"],
    ["analysis.R", undefined, "r"],
    ["Hello.java", undefined, "java"],
    // The extension decides before the shebang does.
    ["x.py", "#!/bin/bash\necho", "python"],
    ["notes.txt", "#!/usr/bin/env python3\nprint(1)", "python"],
    [undefined, "#!/usr/bin/env -S deno run\n", "deno"],
    [undefined, "#!/usr/bin/python3.12\n", "python"],
    [undefined, "#!/bin/sh\n", "bash"],
    [undefined, "print(1)", undefined],
    ["README", undefined, undefined],
    [undefined, "#!/usr/bin/env perl\n", undefined],
  ])("file %j, code %j → %s", (fileName, code, runtime) => {
    expect(detectRuntimeSpec({ fileName, code })?.name).toBe(runtime);
  });
});

describe("one-shot commands", () => {
  it.each([
    ["python", "print(1)", ["-"]],
    ["bash", "echo hi", ["-c", "echo hi"]],
    ["typescript", "1", ["run", "--allow-all", "--ext=ts", "-"]],
    ["java", "1", ["-q", "-"]],
  ])("%s runs %j with %j", (name, code, args) => {
    const spec = runtimeByName(name);
    if (!spec?.oneShot) throw new Error(`${name} has no one-shot command`);
    expect(oneShotArgs(spec.oneShot, code)).toEqual(args);
  });

  it("only the edge runtime (a server) has none", () => {
    expect(RUNTIME_TABLE.filter((r) => !r.oneShot).map((r) => r.name)).toEqual(["edge"]);
  });
});

// The interpreter's adapters describe the same runtimes; this keeps the two from drifting.
describe("agreement with the code interpreter's adapters", () => {
  it("same runtimes, in the same order", () => {
    expect(runtimeNames()).toEqual(RUNTIMES.map((r) => r.name));
  });

  it.each(RUNTIMES.map((r) => [r.name, r] as const))("%s: same metadata", (name, adapter) => {
    const spec = runtimeByName(name);
    expect(spec).toBeDefined();
    expect({
      languages: spec?.languages,
      extensions: spec?.extensions,
      shebangs: spec?.shebangs,
      features: spec?.features,
    }).toEqual({
      languages: adapter.languages,
      extensions: adapter.extensions,
      shebangs: adapter.shebangs,
      features: adapter.features,
    });
  });

  it.each([
    ["a.py", ""],
    ["b.tsx", ""],
    ["c.cjs", ""],
    ["", "#!/usr/bin/env Rscript\n"],
    ["", "#!/usr/bin/jshell\n"],
    ["", "#!/usr/bin/env bun\n"],
    ["", "#!/usr/local/bin/workerd\n"],
    ["d.unknown", "x"],
  ])("detects %j / %j alike", (fileName, code) => {
    expect(detectRuntimeSpec({ fileName, code })?.name).toBe(
      detectRuntime({ fileName, code })?.name,
    );
  });
});
