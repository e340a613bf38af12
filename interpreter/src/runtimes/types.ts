import type { OutputLine } from "../protocol.js";

/** The runtimes SoulBox's code interpreter runs, one adapter each. */
export type RuntimeName =
  "python" | "node" | "typescript" | "bun" | "deno" | "bash" | "r" | "java" | "edge";

/** What a runtime can do; the server reports it on GET /runtimes. */
export interface RuntimeFeatures {
  /** Keeps variables, imports and definitions between calls of one context. */
  stateful: boolean;
  /** Runs TypeScript as-is. */
  typescript: boolean;
  /** `await` at the top level of a cell. */
  topLevelAwait: boolean;
  /** A permission model (Deno's --allow-*). */
  permissions: boolean;
  /** Installs packages from code (`pip install`, `npm:` specifiers, `bun add`). */
  packageInstall: boolean;
}

/**
 * Where an execution's output lines go. `write` returns false when the consumer is behind:
 * the producer then stops reading its source until `drained` resolves.
 */
export interface OutputSink {
  write(line: OutputLine): boolean;
  drained(): Promise<void>;
}

/** Binaries and files the adapters need (flags of the server). */
export interface RuntimeConfig {
  python: string;
  deno: string;
  node: string;
  bun: string;
  bash: string;
  workerd: string;
  /** R, for IRkernel. */
  r: string;
  /** The JVM that runs the Java kernel. */
  java: string;
  /** The directory holding the Java kernel's jars (interpreter/java/build.sh). */
  javaKernelDir: string;
  /** The directory holding soulbox_kernel.py (the Python helper). */
  helperDir: string;
}

/** One live interpreter behind a context: a kernel, a shell, or a per-call process runner. */
export interface Session {
  /**
   * Runs one cell: writes stdout/stderr/result/error/number_of_executions lines (never
   * end_of_execution: the caller ends the stream). An aborted `signal` interrupts the cell; the
   * session survives it. Rejects only when the session itself failed (it died).
   */
  execute(
    code: string,
    envVars: Record<string, string>,
    sink: OutputSink,
    signal: AbortSignal,
  ): Promise<void>;
  /** Resolves with how the session ended (a kernel that exited, a shell that died). */
  readonly exited: Promise<string>;
  /** Stops it and whatever it started. */
  shutdown(): Promise<void>;
}

/** A runtime: its names, how to recognise its files, what it can do, how to start it. */
export interface RuntimeAdapter {
  name: RuntimeName;
  /** Language names `runCode(code, {language})` accepts for it (lower case). */
  languages: string[];
  /** File extensions (with the dot) that mean this runtime. */
  extensions: string[];
  /** Interpreter names in a shebang line that mean this runtime. */
  shebangs: string[];
  features: RuntimeFeatures;
  start(opts: { cwd: string; env: NodeJS.ProcessEnv; config: RuntimeConfig }): Promise<Session>;
}
