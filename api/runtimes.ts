/**
 * The language runtimes a sandbox offers, as data: their names, how a file or a shebang selects
 * them, what they can do, and the one-shot command that runs a snippet of code in them. envd's
 * `soulbox.runtime.v1.Runtime` service runs code from this table; the code interpreter's adapters
 * (interpreter/src/runtimes) describe the same runtimes and a test keeps the two in agreement.
 * Pure: nothing here touches the file system or starts anything.
 */

/** What a runtime can do (the flags the code interpreter reports on GET /runtimes). */
export interface RuntimeFeatureFlags {
  /** Keeps variables, imports and definitions between calls of one interpreter context. */
  stateful: boolean;
  /** Runs TypeScript as-is. */
  typescript: boolean;
  /** `await` at the top level. */
  topLevelAwait: boolean;
  /** A permission model (Deno's --allow-*). */
  permissions: boolean;
  /** Installs packages from code. */
  packageInstall: boolean;
}

/**
 * How to run a snippet once: `binary` with `args`, the code either as the last argument
 * (`-c code`) or written to the process's stdin, which is then closed.
 */
export interface OneShotCommand {
  binary: string;
  args: string[];
  codeVia: "argument" | "stdin";
}

/** One runtime of the table. */
export interface RuntimeSpec {
  name: string;
  /** Names a caller may use for it besides `name` (lower case). */
  languages: string[];
  /** File extensions (lower case, with the dot) that mean this runtime. */
  extensions: string[];
  /** Interpreter names in a shebang line that mean this runtime. */
  shebangs: string[];
  features: RuntimeFeatureFlags;
  /** The executable looked up on PATH (for one-shot runs, or the server it runs). */
  binary: string;
  /** How to run code once; undefined for a runtime that serves rather than runs (edge). */
  oneShot: OneShotCommand | undefined;
}

const flags = (on: (keyof RuntimeFeatureFlags)[]): RuntimeFeatureFlags => ({
  stateful: on.includes("stateful"),
  typescript: on.includes("typescript"),
  topLevelAwait: on.includes("topLevelAwait"),
  permissions: on.includes("permissions"),
  packageInstall: on.includes("packageInstall"),
});

// Code goes to stdin where the runtime reads a whole program from it: an argument is capped at
// 128 KiB by Linux (MAX_ARG_STRLEN). Bash keeps `-c`: it reads a stdin script line by line, so a
// command in the script that reads stdin would swallow the rest of the script.
/** Every runtime, in the order `List` reports them (the code interpreter's order). */
export const RUNTIME_TABLE: readonly RuntimeSpec[] = [
  {
    name: "python",
    languages: ["python", "python3", "py"],
    extensions: [".py"],
    shebangs: ["python", "python3"],
    features: flags(["stateful", "topLevelAwait", "packageInstall"]),
    binary: "python3",
    oneShot: { binary: "python3", args: ["-"], codeVia: "stdin" },
  },
  {
    name: "deno",
    languages: ["javascript", "js", "deno"],
    extensions: [],
    shebangs: ["deno"],
    features: flags(["stateful", "typescript", "topLevelAwait", "permissions", "packageInstall"]),
    binary: "deno",
    oneShot: { binary: "deno", args: ["run", "--allow-all", "-"], codeVia: "stdin" },
  },
  {
    name: "typescript",
    languages: ["typescript", "ts"],
    extensions: [".ts", ".mts", ".tsx"],
    shebangs: ["ts-node", "tsx"],
    features: flags(["stateful", "typescript", "topLevelAwait", "permissions", "packageInstall"]),
    binary: "deno",
    oneShot: { binary: "deno", args: ["run", "--allow-all", "--ext=ts", "-"], codeVia: "stdin" },
  },
  {
    name: "node",
    languages: ["node", "nodejs"],
    extensions: [".js", ".mjs", ".cjs"],
    shebangs: ["node", "nodejs"],
    features: flags(["topLevelAwait", "permissions"]),
    binary: "node",
    oneShot: { binary: "node", args: ["--input-type=module", "-"], codeVia: "stdin" },
  },
  {
    name: "bun",
    languages: ["bun"],
    extensions: [],
    shebangs: ["bun"],
    features: flags(["typescript", "topLevelAwait", "packageInstall"]),
    binary: "bun",
    oneShot: { binary: "bun", args: ["run", "-"], codeVia: "stdin" },
  },
  {
    name: "bash",
    languages: ["bash", "sh", "shell"],
    extensions: [".sh", ".bash"],
    shebangs: ["bash", "sh"],
    features: flags(["stateful"]),
    binary: "bash",
    oneShot: { binary: "bash", args: ["-c"], codeVia: "argument" },
  },
  {
    name: "r",
    languages: ["r"],
    extensions: [".r"],
    shebangs: ["Rscript"],
    features: flags(["stateful", "packageInstall"]),
    binary: "Rscript",
    oneShot: { binary: "Rscript", args: ["-"], codeVia: "stdin" },
  },
  {
    name: "java",
    languages: ["java"],
    extensions: [".java", ".jsh"],
    shebangs: ["java", "jshell"],
    features: flags(["stateful"]),
    // jshell runs snippets (statements, declarations) read from stdin, as the interpreter does.
    binary: "jshell",
    oneShot: { binary: "jshell", args: ["-q", "-"], codeVia: "stdin" },
  },
  {
    name: "edge",
    languages: ["edge", "workerd"],
    extensions: [],
    shebangs: ["workerd"],
    features: flags(["topLevelAwait", "permissions"]),
    binary: "workerd",
    oneShot: undefined,
  },
];

/** The names `resolveRuntime` accepts, for error messages. */
export function runtimeNames(table: readonly RuntimeSpec[] = RUNTIME_TABLE): string[] {
  return table.map((r) => r.name);
}

/** A runtime by name or language (trimmed, case-insensitive); undefined when none has it. */
export function runtimeByName(
  name: string,
  table: readonly RuntimeSpec[] = RUNTIME_TABLE,
): RuntimeSpec | undefined {
  const n = name.trim().toLowerCase();
  return table.find((r) => r.name === n || r.languages.includes(n));
}

/**
 * Detects a runtime from a file name's extension or, failing that, from the code's shebang line
 * (`#!/usr/bin/env python3`, `#!/bin/bash`, `#!/usr/bin/env -S deno run`). Undefined when
 * neither says.
 */
export function detectRuntimeSpec(
  input: { fileName?: string; code?: string },
  table: readonly RuntimeSpec[] = RUNTIME_TABLE,
): RuntimeSpec | undefined {
  const name = input.fileName?.toLowerCase();
  if (name) {
    const dot = name.lastIndexOf(".");
    const ext = dot >= 0 ? name.slice(dot) : "";
    const byExt = table.find((r) => r.extensions.includes(ext));
    if (byExt) return byExt;
  }
  const first = input.code?.split("\n", 1)[0] ?? "";
  if (!first.startsWith("#!")) return undefined;
  const words = first.slice(2).trim().split(/\s+/);
  // `/usr/bin/env [-S] interpreter args`: the interpreter is the first word after env's options.
  let interpreter = words[0]?.split("/").pop() ?? "";
  if (interpreter === "env")
    interpreter =
      words
        .slice(1)
        .find((w) => !w.startsWith("-"))
        ?.split("/")
        .pop() ?? "";
  const bare = interpreter.replace(/[\d.]+$/, "");
  return table.find((r) => r.shebangs.includes(interpreter) || r.shebangs.includes(bare));
}

/** The argv (after the binary) that runs `code` once with `cmd`. */
export function oneShotArgs(cmd: OneShotCommand, code: string): string[] {
  return cmd.codeVia === "argument" ? [...cmd.args, code] : [...cmd.args];
}
