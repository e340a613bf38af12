import { outputFromIopub } from "../jupyter/outputs.js";
import { KernelDiedError, startKernel, type KernelSpec } from "../jupyter/kernel.js";
import type { OutputSink, Session } from "./types.js";

/** How a language sets and restores per-execution environment variables inside its kernel. */
export interface KernelEnvCode {
  set(envVars: Record<string, string>): string;
  restore(): string;
}

/**
 * A Session on a Jupyter kernel: one kernel process per context, state kept between cells.
 * `setup` runs silently once after start (the Python helper's formatters). Per-execution
 * environment variables are set by a silent cell before and restored by one after, so they
 * never show in the execution count or the history.
 */
export async function startJupyterSession(
  spec: KernelSpec,
  opts: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    setup?: string;
    /** Absent: the language cannot set env vars per execution; a call asking for some is refused. */
    envCode?: KernelEnvCode;
    language?: string;
  },
): Promise<Session> {
  const kernel = await startKernel(spec, { cwd: opts.cwd, env: opts.env });
  const silent = async (code: string) => {
    let failure: string | undefined;
    await kernel.execute(
      code,
      (m) => {
        if (m.header.msg_type === "error")
          failure = `${String(m.content.ename)}: ${String(m.content.evalue)}`;
      },
      { silent: true },
    );
    if (failure) throw new Error(`a setup cell failed: ${failure}`);
  };
  if (opts.setup) {
    try {
      await silent(opts.setup);
    } catch (err) {
      await kernel.shutdown();
      throw err;
    }
  }
  return {
    exited: kernel.exited,
    shutdown: () => kernel.shutdown(),
    async execute(code, envVars, sink: OutputSink, signal) {
      const hasEnv = Object.keys(envVars).length > 0;
      const envCode = opts.envCode;
      if (hasEnv && !envCode) {
        sink.write({
          type: "error",
          name: "EnvVarsUnsupported",
          value: `${opts.language ?? "this language"} cannot set environment variables per execution (asked for ${Object.keys(envVars).join(", ")}); set them when the sandbox or context starts`,
          traceback: "",
        });
        return;
      }
      if (hasEnv && envCode) await silent(envCode.set(envVars));
      const onAbort = () => kernel.interrupt();
      signal.addEventListener("abort", onAbort, { once: true });
      let draining = false;
      try {
        const outcome = await kernel.execute(code, (msg) => {
          const line = outputFromIopub(msg);
          if (!line || sink.write(line) || draining) return;
          // The client is behind: stop reading iopub (the kernel's ZeroMQ queue and then TCP
          // hold the rest) until it catches up.
          draining = true;
          kernel.pauseOutput();
          void sink.drained().then(() => {
            draining = false;
            kernel.resumeOutput();
          });
        });
        if (outcome.status === "aborted")
          sink.write({
            type: "error",
            name: "ExecutionAborted",
            value: "the kernel aborted this execution",
            traceback: "",
          });
        if (outcome.executionCount !== undefined)
          sink.write({ type: "number_of_executions", execution_count: outcome.executionCount });
      } finally {
        signal.removeEventListener("abort", onAbort);
        if (draining) kernel.resumeOutput();
      }
      if (hasEnv && envCode)
        await silent(envCode.restore()).catch((err: unknown) => {
          if (err instanceof KernelDiedError) throw err;
        });
    },
  };
}
