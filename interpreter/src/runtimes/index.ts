import { bashRuntime } from "./bash.js";
import { bunRuntime } from "./bun.js";
import { denoRuntime, typescriptRuntime } from "./deno.js";
import { edgeRuntime } from "./edge.js";
import { javaRuntime } from "./java.js";
import { nodeRuntime } from "./node.js";
import { pythonRuntime } from "./python.js";
import { rRuntime } from "./r.js";
import type { RuntimeAdapter } from "./types.js";

/** Every runtime, in the order GET /runtimes lists them. */
export const RUNTIMES: readonly RuntimeAdapter[] = [
  pythonRuntime,
  denoRuntime,
  typescriptRuntime,
  nodeRuntime,
  bunRuntime,
  bashRuntime,
  rRuntime,
  javaRuntime,
  edgeRuntime,
];

/** The language a request without one runs in (E2B's default). */
export const DEFAULT_LANGUAGE = "python";

/** A language no runtime serves; the message lists the ones that exist. */
export class UnknownLanguageError extends Error {
  constructor(language: string) {
    super(
      `Unknown language "${language}": supported languages are ${RUNTIMES.flatMap((r) => r.languages).join(", ")}`,
    );
    this.name = "UnknownLanguageError";
  }
}

/** Normalises a language name (trimmed, lower case). */
export function normalizeLanguage(language: string): string {
  return language.trim().toLowerCase();
}

/** The runtime for a language name; throws UnknownLanguageError. */
export function runtimeFor(language: string): RuntimeAdapter {
  const l = normalizeLanguage(language);
  const r = RUNTIMES.find((x) => x.languages.includes(l));
  if (!r) throw new UnknownLanguageError(language);
  return r;
}

/**
 * Detects a runtime from a file name's extension or, failing that, from the code's shebang line
 * (`#!/usr/bin/env python3`, `#!/bin/bash`, `#!/usr/bin/env -S deno run`). Undefined when
 * neither says.
 */
export function detectRuntime(input: {
  fileName?: string;
  code?: string;
}): RuntimeAdapter | undefined {
  const name = input.fileName?.toLowerCase();
  if (name) {
    const dot = name.lastIndexOf(".");
    const ext = dot >= 0 ? name.slice(dot) : "";
    const byExt = RUNTIMES.find((r) => r.extensions.includes(ext));
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
  return RUNTIMES.find((r) => r.shebangs.includes(interpreter) || r.shebangs.includes(bare));
}
