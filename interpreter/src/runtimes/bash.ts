import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MarkerSplitter } from "./marker.js";
import { shellQuote } from "./shell-quote.js";
import type { OutputSink, RuntimeAdapter, Session } from "./types.js";

/**
 * Bash: SoulBox's own small kernel. One long-lived `bash` per context keeps variables,
 * functions and the working directory; each cell is a file sourced by it (a syntax error stays
 * inside the cell), with stdin from /dev/null so a cell cannot eat the next one. After the cell,
 * bash prints a random marker with the exit status on stdout and the marker on stderr; both seen
 * means both streams are complete. An interrupt is SIGINT to the shell's process group: the
 * foreground command dies and the shell's INT trap returns from the sourced cell, state kept.
 */
export const bashRuntime: RuntimeAdapter = {
  name: "bash",
  languages: ["bash", "sh", "shell"],
  extensions: [".sh", ".bash"],
  shebangs: ["bash", "sh"],
  features: {
    stateful: true,
    typescript: false,
    topLevelAwait: false,
    permissions: false,
    packageInstall: false,
  },
  start: async ({ cwd, env, config }) => startBash(config.bash, cwd, env),
};

async function startBash(bash: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Session> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-bash-"));
  const marker = `__SOULBOX_${randomBytes(12).toString("hex")}__`;
  const child = spawn(bash, ["--noprofile", "--norc"], {
    cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(`could not start ${bash}: ${err.message}`));
    child.once("exit", (code, sig) =>
      resolve(`exited with ${sig ? `signal ${sig}` : `code ${code}`}`),
    );
  });
  void exited.then(() => rm(dir, { recursive: true, force: true }));
  child.stdin.on("error", () => {}); // a dead shell is reported through `exited`
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdin.write("trap 'return 130 2>/dev/null' INT\n");
  let count = 0;

  return {
    exited,
    async shutdown() {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      await exited;
    },
    async execute(code, envVars, sink: OutputSink, signal) {
      count++;
      const file = join(dir, `cell-${count}.sh`);
      await writeFile(file, code);
      const out = new MarkerSplitter(`${marker} `);
      const err = new MarkerSplitter(marker);
      let status: string | undefined;
      let errDone = false;
      const prefix = Object.entries(envVars)
        .map(([k, v]) => `${k}=${shellQuote(v)} `)
        .join("");
      const done = new Promise<void>((resolve, reject) => {
        const check = () => {
          if (status !== undefined && errDone) finish(resolve);
        };
        const emit = (type: "stdout" | "stderr", text: string, stream: NodeJS.ReadableStream) => {
          if (text === "") return;
          if (!sink.write({ type, text, timestamp: new Date().toISOString() })) {
            stream.pause();
            void sink.drained().then(() => stream.resume());
          }
        };
        const onOut = (t: string) => {
          const r = out.push(t);
          emit("stdout", r.out, child.stdout);
          if (r.ended !== undefined) status = r.ended.trim();
          check();
        };
        const onErr = (t: string) => {
          const r = err.push(t);
          emit("stderr", r.out, child.stderr);
          if (r.ended !== undefined) errDone = true;
          check();
        };
        const onDeath = (how: string) => finish(() => reject(new Error(`the bash shell ${how}`)));
        const finish = (then: () => void) => {
          child.stdout.off("data", onOut);
          child.stderr.off("data", onErr);
          then();
        };
        child.stdout.on("data", onOut);
        child.stderr.on("data", onErr);
        void exited.then(onDeath);
      });
      const onAbort = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGINT");
        } catch {
          // The shell is gone; `exited` reports it.
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      child.stdin.write(
        `${prefix}. ${shellQuote(file)} </dev/null; printf '%s %d\\n' ${marker} $?; printf '%s\\n' ${marker} >&2\n`,
      );
      try {
        await done;
      } finally {
        signal.removeEventListener("abort", onAbort);
        await rm(file, { force: true });
      }
      const code_ = Number(status);
      if (code_ !== 0)
        sink.write({
          type: "error",
          name: "ExitError",
          value: `the cell exited with status ${status}`,
          traceback: "",
        });
      sink.write({ type: "number_of_executions", execution_count: count });
    },
  };
}
