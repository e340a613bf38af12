import { startJupyterSession, type KernelEnvCode } from "./jupyter-session.js";
import type { RuntimeAdapter, RuntimeConfig } from "./types.js";

const envCode: KernelEnvCode = {
  set: (vars) =>
    `{ const v = ${JSON.stringify(vars)}; (globalThis.__sbxEnv ??= []).push(Object.fromEntries(Object.keys(v).map((k) => [k, Deno.env.get(k)]))); for (const [k, x] of Object.entries(v)) Deno.env.set(k, x); }`,
  restore: () =>
    `{ const old = (globalThis.__sbxEnv ?? []).pop() ?? {}; for (const [k, x] of Object.entries(old)) { if (x === undefined) Deno.env.delete(k); else Deno.env.set(k, x); } }`,
};

function startDeno(cwd: string, env: NodeJS.ProcessEnv, config: RuntimeConfig) {
  return startJupyterSession(
    {
      argv: [config.deno, "jupyter", "--kernel", "--conn", "{connection_file}"],
      interruptMode: "message",
      iopubBarrier: true,
      // No update checks in a sandbox kernel. (Not NO_COLOR: with it, Deno 2.9's kernel drops
      // some cells' execute_result; result text loses its colour codes in protocol.ts instead.)
      env: { DENO_NO_UPDATE_CHECK: "1" },
    },
    // A first silent cell: Deno's kernel compiles its REPL on the first request, and a cold
    // first request is the one most likely to publish its result late.
    { cwd, env, envCode, setup: "void 0" },
  );
}

/** JavaScript (and TypeScript) on Deno's Jupyter kernel: stateful, top-level await, npm: imports. */
export const denoRuntime: RuntimeAdapter = {
  name: "deno",
  languages: ["javascript", "js", "deno"],
  extensions: [],
  shebangs: ["deno"],
  features: {
    stateful: true,
    typescript: true,
    topLevelAwait: true,
    permissions: true,
    packageInstall: true,
  },
  start: ({ cwd, env, config }) => startDeno(cwd, env, config),
};

/** TypeScript, run as-is by the same Deno kernel. */
export const typescriptRuntime: RuntimeAdapter = {
  name: "typescript",
  languages: ["typescript", "ts"],
  extensions: [".ts", ".mts", ".tsx"],
  shebangs: ["ts-node", "tsx"],
  features: {
    stateful: true,
    typescript: true,
    topLevelAwait: true,
    permissions: true,
    packageInstall: true,
  },
  start: ({ cwd, env, config }) => startDeno(cwd, env, config),
};
