/**
 * Code-interpreter benchmark: starts dist/code-interpreter.mjs on this machine (the server the
 * code-interpreter-v1 template runs on port 49999) with its real runtimes (Debian's ipykernel at
 * /usr/bin/python3, Deno and Bun from node_modules, bash, node, R on IRkernel, Java on SoulBox's JShell
 * kernel) and drives it with the official
 * `@e2b/code-interpreter` SDK, unchanged, pointed at it (debug mode + sandboxUrl, as the tests do
 * for envd):
 * 1. `runCode('1+1')` (or its language's equivalent) on each language's default context, p50/p99;
 * 2. `createCodeContext({language})`: a new kernel/shell per call, until it answers, p50/max.
 * Prints Markdown tables; stops the server by pid. No cluster: this is the server and kernels, not
 * the gateway (bench:gateway measures the proxy hop).
 * Run with `npm run bench:interpreter` (SOULBOX_BENCH_RUNS, SOULBOX_BENCH_CONTEXTS to change counts).
 */
import { Sandbox } from "@e2b/code-interpreter";
import { spawn } from "node:child_process";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { quantile } from "./support.js";

const ROOT = join(import.meta.dirname, "..");
const RUNS = Number(process.env.SOULBOX_BENCH_RUNS ?? 200);
const CONTEXTS = Number(process.env.SOULBOX_BENCH_CONTEXTS ?? 5);
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** Each language and its `1+1`, with the number of runs (per-call processes are slower). */
const LANGUAGES: Array<{ language: string; code: string; runs: number }> = [
  { language: "python", code: "1+1", runs: RUNS },
  { language: "javascript", code: "1+1", runs: RUNS },
  { language: "typescript", code: "1+1", runs: RUNS },
  { language: "bash", code: "echo $((1+1))", runs: RUNS },
  { language: "node", code: "console.log(1+1)", runs: Math.ceil(RUNS / 4) },
  { language: "bun", code: "console.log(1+1)", runs: Math.ceil(RUNS / 4) },
  // IRkernel sends values as display data only: print to stdout instead.
  { language: "r", code: "cat(1+1)", runs: RUNS },
  { language: "java", code: "1+1", runs: RUNS },
  {
    language: "edge",
    code: "export default { fetch() { return new Response(String(1+1)); } }",
    runs: Math.ceil(RUNS / 4),
  },
];

type SandboxCtor = new (opts: Record<string, unknown>) => Sandbox;

async function main() {
  const server = spawn(
    join(ROOT, "node_modules/.bin/node"),
    [
      join(ROOT, "dist/code-interpreter.mjs"),
      ...["--port", "0", "--host", "127.0.0.1", "--cwd", "/tmp", "--python", "/usr/bin/python3"],
      ...["--deno", join(ROOT, "node_modules/@deno/linux-x64-glibc/deno")],
      ...["--bun", join(ROOT, "node_modules/@oven/bun-linux-x64/bin/bun")],
      ...["--workerd", join(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd")],
      "--no-warm",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: server.stderr }).on("line", (l) => {
        const j = JSON.parse(l) as { msg?: string; port?: number };
        if (j.msg === "listening" && j.port) resolve(j.port);
      });
      server.once("exit", (code) => reject(new Error(`the interpreter exited (${code})`)));
    });
    // The SDK's constructor is internal; debug mode plus an explicit URL is how it talks to a
    // local server.
    const sbx = new (Sandbox as unknown as SandboxCtor)({
      sandboxId: "local",
      debug: true,
      sandboxUrl: `http://127.0.0.1:${port}`,
    });

    console.log(
      `\n${cpus()[0]?.model ?? "?"}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB\n`,
    );
    console.log(
      "| language | runtime | runCode('1+1') p50 (ms) | p99 (ms) | runs | first call (ms) |",
    );
    console.log("|---|---|---|---|---|---|");
    for (const { language, code, runs } of LANGUAGES) {
      let t = performance.now();
      const first = await sbx.runCode(code, { language });
      const firstMs = performance.now() - t;
      if (first.error) throw new Error(`${language}: ${first.error.name}: ${first.error.value}`);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        t = performance.now();
        const r = await sbx.runCode(code, { language });
        times.push(performance.now() - t);
        const out = r.text ?? r.logs.stdout.join("").trim();
        if (out !== "2") throw new Error(`${language}: 1+1 gave ${JSON.stringify(out)}`);
      }
      const stateful = ["node", "bun", "edge"].includes(language) ? "process per call" : "kernel";
      console.log(
        `| ${language} | ${stateful} | ${ms(quantile(times, 0.5))} | ${ms(quantile(times, 0.99))} | ${runs} | ${ms(firstMs)} |`,
      );
    }

    console.log("\n| language | createCodeContext p50 (ms) | max (ms) | contexts |");
    console.log("|---|---|---|---|");
    for (const language of ["python", "javascript", "bash", "r", "java"]) {
      const times: number[] = [];
      for (let i = 0; i < CONTEXTS; i++) {
        const t = performance.now();
        const ctx = await sbx.createCodeContext({ language });
        times.push(performance.now() - t);
        await sbx.removeCodeContext(ctx);
      }
      console.log(
        `| ${language} | ${ms(quantile(times, 0.5))} | ${ms(Math.max(...times))} | ${CONTEXTS} |`,
      );
    }
  } finally {
    const gone = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await gone;
  }
}

await main();
