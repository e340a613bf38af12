import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutputSink, Session } from "./types.js";

/**
 * A stateless Session: every cell is a file run by a fresh process (`argv` + the file), its
 * stdout and stderr streamed as they come. Nothing survives between cells, which the runtime's
 * features say (stateful: false). An aborted signal kills the process group; a non-zero exit is
 * an error line named "ExitError".
 */
export function processSession(opts: {
  argv: string[];
  fileName: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}): Session {
  let count = 0;
  let ended!: (how: string) => void;
  const exited = new Promise<string>((r) => (ended = r));
  const running = new Set<number>();
  return {
    exited,
    async shutdown() {
      for (const pid of running) killGroup(pid);
      ended("shut down");
    },
    async execute(code, envVars, sink: OutputSink, signal) {
      const dir = await mkdtemp(join(tmpdir(), "soulbox-cell-"));
      const file = join(dir, opts.fileName);
      await writeFile(file, code);
      const [cmd, ...args] = opts.argv;
      if (!cmd) throw new Error("a runtime with an empty argv");
      count++;
      try {
        const child = spawn(cmd, [...args, file], {
          cwd: opts.cwd,
          env: { ...opts.env, ...envVars },
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        });
        if (child.pid !== undefined) running.add(child.pid);
        const onAbort = () => child.pid !== undefined && killGroup(child.pid);
        signal.addEventListener("abort", onAbort, { once: true });
        const pump = (stream: NodeJS.ReadableStream, type: "stdout" | "stderr") => {
          stream.setEncoding("utf8");
          stream.on("data", (text: string) => {
            if (!sink.write({ type, text, timestamp: new Date().toISOString() })) {
              stream.pause();
              void sink.drained().then(() => stream.resume());
            }
          });
        };
        pump(child.stdout, "stdout");
        pump(child.stderr, "stderr");
        const status = await new Promise<{
          code: number | null;
          signal: NodeJS.Signals | null;
          err?: Error;
        }>((resolve) => {
          child.once("error", (err) => resolve({ code: null, signal: null, err }));
          child.once("close", (code, sig) => resolve({ code, signal: sig }));
        });
        signal.removeEventListener("abort", onAbort);
        if (child.pid !== undefined) running.delete(child.pid);
        if (status.err)
          sink.write({
            type: "error",
            name: "RuntimeNotFound",
            value: `could not run ${cmd}: ${status.err.message}`,
            traceback: "",
          });
        else if (status.code !== 0)
          sink.write({
            type: "error",
            name: "ExitError",
            value: status.signal
              ? `the process was killed by ${status.signal}`
              : `the process exited with status ${status.code}`,
            traceback: "",
          });
        sink.write({ type: "number_of_executions", execution_count: count });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
