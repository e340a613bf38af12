/** What to run; mirrors the wire `ProcessConfig` without depending on it. */
export interface ProcessSpec {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

/** One item of a process's output stream, in order. */
export type OutputEvent =
  | { kind: "stdout"; data: Uint8Array }
  | { kind: "stderr"; data: Uint8Array }
  | { kind: "pty"; data: Uint8Array }
  | { kind: "end"; exit: ExitInfo };

/** How a process ended, in the shape E2B's envd reports (Go's ProcessState). */
export interface ExitInfo {
  /** The exit code, or -1 when a signal ended the process. */
  exitCode: number;
  /** True when the process exited by itself (not by a signal). */
  exited: boolean;
  /** `exit status N` or `signal: killed`, as Go prints it. */
  status: string;
  error?: string;
}

/** Terminal size for PTY processes. */
export interface PtySize {
  cols: number;
  rows: number;
}
