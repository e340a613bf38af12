import { spawn as spawnChild } from "node:child_process";
import { constants as osConstants } from "node:os";
import * as pty from "node-pty";
import { createBroadcaster, type Broadcaster } from "./broadcaster.js";
import { describeExit } from "./exit-status.js";
import type { ExitInfo, OutputEvent, ProcessSpec, PtySize } from "./process-types.js";
import { EnvdError } from "../shared/errors.js";

/** Everything needed to start a process, already resolved (user, cwd, env). */
export interface LaunchOptions {
  spec: ProcessSpec;
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  pty?: PtySize;
  stdin: boolean;
  tag?: string;
  /**
   * Start it in a process group of its own and send every signal to that group, so a kill ends
   * what it started in the background too (one-shot runs with a timeout). Pipes only; a process
   * that moves itself to another group (setsid) escapes, as it would a terminal's Ctrl-C.
   */
  ownGroup?: boolean;
}

/** A running (or recently exited) process and its single output broadcaster. */
export interface ManagedProcess {
  readonly pid: number;
  readonly tag: string | undefined;
  readonly spec: ProcessSpec;
  readonly isPty: boolean;
  readonly output: Broadcaster<OutputEvent>;
  /** Set once the process has ended and all its output was published. */
  exit: ExitInfo | undefined;
  readonly done: Promise<ExitInfo>;
  writeStdin(data: Uint8Array): void;
  writePty(data: Uint8Array): void;
  closeStdin(): void;
  signal(name: NodeJS.Signals): void;
  resize(size: PtySize): void;
}

const eventSize = (e: OutputEvent) => (e.kind === "end" ? 64 : e.data.byteLength);

/** Grace period for pipes to drain after exit, when a detached child keeps them open. */
const PIPE_DRAIN_MS = 2000;

/**
 * Starts a process. Output goes to one broadcaster; a subscriber taken
 * synchronously after this returns sees every byte. Throws `EnvdError` when
 * the executable cannot be started.
 */
export async function launch(opts: LaunchOptions): Promise<ManagedProcess> {
  return opts.pty ? launchPty(opts, opts.pty) : launchPiped(opts);
}

function launchPiped(opts: LaunchOptions): Promise<ManagedProcess> {
  const child = spawnChild(opts.spec.cmd, opts.spec.args, {
    cwd: opts.cwd,
    env: opts.env,
    uid: opts.uid,
    gid: opts.gid,
    stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    // detached: setsid(), so the child leads a new group whose id is its pid.
    detached: opts.ownGroup === true,
  });
  let pausedOut = false;
  const output = createBroadcaster<OutputEvent>({
    sizeOf: eventSize,
    onPressure: (paused) => {
      pausedOut = paused;
      if (paused) {
        child.stdout?.pause();
        child.stderr?.pause();
      } else {
        child.stdout?.resume();
        child.stderr?.resume();
      }
    },
  });
  return new Promise((resolve, reject) => {
    child.once("error", (err) => {
      reject(
        new EnvdError(spawnErrorKind(err), `cannot start '${opts.spec.cmd}': ${err.message}`, {
          cause: err,
        }),
      );
    });
    child.once("spawn", () => {
      const pid = child.pid ?? 0;
      child.stdout?.on("data", (d: Buffer) => output.publish({ kind: "stdout", data: d }));
      child.stderr?.on("data", (d: Buffer) => output.publish({ kind: "stderr", data: d }));
      // A client that writes to a process which closed stdin must not crash envd.
      child.stdin?.on("error", () => undefined);
      const done = new Promise<ExitInfo>((resolveDone) => {
        child.once("exit", (code, signal) => {
          const finish = () => {
            if (proc.exit) return;
            proc.exit = describeExit(code, signal);
            output.publish({ kind: "end", exit: proc.exit });
            output.close();
            resolveDone(proc.exit);
          };
          child.once("close", finish);
          // A background grandchild may hold the pipes open forever; do not wait on it.
          setTimeout(() => {
            if (pausedOut) return; // still draining to a slow reader: close will come
            child.stdout?.destroy();
            child.stderr?.destroy();
            finish();
          }, PIPE_DRAIN_MS).unref();
        });
      });
      const proc: ManagedProcess = {
        pid,
        tag: opts.tag,
        spec: opts.spec,
        isPty: false,
        output,
        exit: undefined,
        done,
        writeStdin(data) {
          if (!child.stdin)
            throw new EnvdError("failed_precondition", `process ${pid} was started without stdin`);
          if (child.stdin.writableEnded || child.stdin.destroyed) {
            throw new EnvdError("failed_precondition", `stdin of process ${pid} is closed`);
          }
          child.stdin.write(data);
        },
        writePty() {
          throw new EnvdError("invalid_argument", `process ${pid} has no PTY; send stdin instead`);
        },
        closeStdin() {
          if (!child.stdin)
            throw new EnvdError("failed_precondition", `process ${pid} was started without stdin`);
          child.stdin.end();
        },
        signal(name) {
          if (opts.ownGroup) signalGroup(pid, name);
          else child.kill(name);
        },
        resize() {
          throw new EnvdError("invalid_argument", `process ${pid} has no PTY to resize`);
        },
      };
      resolve(proc);
    });
  });
}

/** Signals every process of group `pgid`; a group already gone is no error. */
function signalGroup(pgid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pgid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function launchPty(opts: LaunchOptions, size: PtySize): Promise<ManagedProcess> {
  let term: pty.IPty;
  try {
    term = pty.spawn(opts.spec.cmd, opts.spec.args, {
      name: opts.env.TERM ?? "xterm-256color",
      cols: size.cols,
      rows: size.rows,
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      encoding: null,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return Promise.reject(
      new EnvdError("invalid_argument", `cannot start '${opts.spec.cmd}' in a PTY: ${message}`, {
        cause: err,
      }),
    );
  }
  const output = createBroadcaster<OutputEvent>({
    sizeOf: eventSize,
    onPressure: (paused) => (paused ? term.pause() : term.resume()),
  });
  let resolveDone: (e: ExitInfo) => void = () => undefined;
  const done = new Promise<ExitInfo>((r) => (resolveDone = r));
  const proc: ManagedProcess = {
    pid: term.pid,
    tag: opts.tag,
    spec: opts.spec,
    isPty: true,
    output,
    exit: undefined,
    done,
    writeStdin() {
      throw new EnvdError(
        "invalid_argument",
        `process ${term.pid} runs in a PTY; send pty input instead`,
      );
    },
    writePty(data) {
      term.write(Buffer.from(data));
    },
    closeStdin() {
      // A terminal has no separate stdin to close; EOT is what a user's Ctrl-D sends.
      term.write("\x04");
    },
    signal(name) {
      term.kill(name);
    },
    resize(s) {
      if (s.cols < 1 || s.rows < 1)
        throw new EnvdError("invalid_argument", "PTY size must be at least 1x1");
      term.resize(s.cols, s.rows);
    },
  };
  // node-pty with encoding null hands out Buffers; its typing says string.
  term.onData((d: string | Buffer) =>
    output.publish({ kind: "pty", data: typeof d === "string" ? Buffer.from(d) : d }),
  );
  term.onExit(({ exitCode, signal }) => {
    const sigName = signal ? signalName(signal) : null;
    proc.exit = describeExit(sigName ? null : exitCode, sigName);
    output.publish({ kind: "end", exit: proc.exit });
    output.close();
    resolveDone(proc.exit);
  });
  return Promise.resolve(proc);
}

function signalName(num: number): string | null {
  for (const [name, n] of Object.entries(osConstants.signals)) if (n === num) return name;
  return null;
}

function spawnErrorKind(err: Error): "not_found" | "permission_denied" | "invalid_argument" {
  const code = "code" in err ? err.code : undefined;
  if (code === "ENOENT") return "not_found";
  if (code === "EACCES" || code === "EPERM") return "permission_denied";
  return "invalid_argument";
}
