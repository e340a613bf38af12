import type { ExitInfo } from "./process-types.js";

const signalWords: Record<string, string> = {
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGINT: "interrupt",
  SIGHUP: "hangup",
  SIGQUIT: "quit",
  SIGABRT: "aborted",
  SIGSEGV: "segmentation fault",
  SIGPIPE: "broken pipe",
  SIGUSR1: "user defined signal 1",
  SIGUSR2: "user defined signal 2",
  SIGSTOP: "stopped (signal)",
  SIGBUS: "bus error",
  SIGFPE: "floating point exception",
  SIGILL: "illegal instruction",
  SIGALRM: "alarm clock",
};

/**
 * Describes an exit the way Go's `ProcessState.String()` does, since E2B's
 * SDKs show that text to users; `error` is set unless the exit was clean. Pure.
 */
export function describeExit(code: number | null, signal: string | null): ExitInfo {
  if (signal) {
    const status = `signal: ${signalWords[signal] ?? signal}`;
    return { exitCode: -1, exited: false, status, error: status };
  }
  const exitCode = code ?? -1;
  const status = `exit status ${exitCode}`;
  // Like Go's cmd.Wait(), only a clean exit carries no error.
  return exitCode === 0
    ? { exitCode, exited: true, status }
    : { exitCode, exited: true, status, error: status };
}
