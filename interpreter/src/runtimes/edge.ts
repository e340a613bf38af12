import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutputSink, RuntimeAdapter, Session } from "./types.js";

/** How long a worker gets to start listening and to answer its one request. */
const START_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** The Workers compatibility date the edge runtime runs modules at. */
export const COMPATIBILITY_DATE = "2024-09-23";

/**
 * workerd's config for one ES-module worker (worker.js beside it) on host:port, Cap'n Proto text,
 * workerd's format. The one-shot cells listen on loopback; `soulbox-edge serve` on every interface
 * ("*"), so the sandbox's port is reachable from outside (getHost).
 */
export function workerdConfig(
  port: number,
  compatibilityDate = COMPATIBILITY_DATE,
  host = "127.0.0.1",
): string {
  return [
    'using Workerd = import "/workerd/workerd.capnp";',
    "const config :Workerd.Config = (",
    '  services = [ (name = "main", worker = .cell) ],',
    `  sockets = [ (name = "http", address = "${host}:${port}", http = (), service = "main") ],`,
    ");",
    "const cell :Workerd.Worker = (",
    '  modules = [ (name = "worker.js", esModule = embed "worker.js") ],',
    `  compatibilityDate = "${compatibilityDate}",`,
    ");",
    "",
  ].join("\n");
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * The edge runtime, one-shot: a cell is a Web-standard fetch handler module
 * (`export default { async fetch(request, env, ctx) { ... } }`, the Cloudflare Workers / Vercel
 * Edge shape). workerd, Cloudflare's open-source Workers runtime, serves it on a loopback port;
 * the server sends it one `GET /` and the response becomes the cell's result (`text` = body,
 * `json` = status and headers); the worker's console output streams as stdout/stderr. Then
 * workerd stops: nothing is kept between cells (stateful: false). A worker has no network or
 * file access unless given (workerd's capabilities), hence `permissions`.
 */
export const edgeRuntime: RuntimeAdapter = {
  name: "edge",
  languages: ["edge", "workerd"],
  extensions: [],
  shebangs: ["workerd"],
  features: {
    stateful: false,
    typescript: false,
    topLevelAwait: true,
    permissions: true,
    packageInstall: false,
  },
  start: async ({ cwd, env, config }) => edgeSession(config.workerd, cwd, env),
};

function edgeSession(workerd: string, cwd: string, env: NodeJS.ProcessEnv): Session {
  let count = 0;
  let ended!: (how: string) => void;
  const exited = new Promise<string>((r) => (ended = r));
  const running = new Set<() => void>();
  return {
    exited,
    async shutdown() {
      for (const stop of running) stop();
      ended("shut down");
    },
    async execute(code, envVars, sink: OutputSink, signal) {
      count++;
      const dir = await mkdtemp(join(tmpdir(), "soulbox-edge-"));
      const port = await freePort();
      await writeFile(join(dir, "worker.js"), code);
      await writeFile(join(dir, "config.capnp"), workerdConfig(port));
      const child = spawn(workerd, ["serve", "config.capnp"], {
        cwd: dir,
        env: { ...env, ...envVars },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const stop = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      };
      running.add(stop);
      const closed = new Promise<number | null>((r) => child.once("close", (c) => r(c)));
      let startError: Error | undefined;
      child.once("error", (err) => (startError = err));
      // workerd's own first stderr line ("Listening on http://127.0.0.1:<port>") is not the
      // cell's output: it is held until its line ends and dropped.
      let head: string | undefined = "";
      const emit = (type: "stdout" | "stderr", text: string) => {
        if (type === "stderr" && head !== undefined) {
          head += text;
          const nl = head.indexOf("\n");
          if (nl < 0) return;
          const [first, rest] = [head.slice(0, nl), head.slice(nl + 1)];
          head = undefined;
          text =
            (/^Listening on http:\/\/127\.0\.0\.1:\d+$/.test(first) ? "" : `${first}\n`) + rest;
          if (text === "") return;
        }
        sink.write({ type, text, timestamp: new Date().toISOString() });
      };
      child.stdout.setEncoding("utf8").on("data", (t: string) => emit("stdout", t));
      child.stderr.setEncoding("utf8").on("data", (t: string) => emit("stderr", t));
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        const deadline = Date.now() + START_TIMEOUT_MS;
        let response: Response | undefined;
        while (!response) {
          if (startError) throw startError;
          if (child.exitCode !== null || signal.aborted || Date.now() > deadline) break;
          response = await fetch(`http://127.0.0.1:${port}/`, {
            signal: AbortSignal.any([abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
          }).catch(async (err: unknown) => {
            // Not listening yet: wait for workerd a little (it binds once the worker compiled).
            if (err instanceof Error && err.name === "TimeoutError") throw err;
            await new Promise((r) => setTimeout(r, 25));
            return undefined;
          });
        }
        if (!response) {
          stop();
          const code_ = await closed;
          sink.write({
            type: "error",
            name: "EdgeWorkerError",
            value: signal.aborted
              ? "interrupted"
              : `workerd ${child.exitCode !== null || code_ !== null ? `exited (${code_ ?? "signal"})` : "did not listen in time"}: the module must export default { fetch(request) { ... } }`,
            traceback: "",
          });
        } else {
          const body = await response.text();
          sink.write({
            type: "result",
            is_main_result: true,
            text: body,
            json: { status: response.status, headers: Object.fromEntries(response.headers) },
          });
        }
      } catch (err) {
        sink.write({
          type: "error",
          name:
            err instanceof Error && err.name === "TimeoutError"
              ? "TimeoutError"
              : "EdgeWorkerError",
          value: err instanceof Error ? err.message : String(err),
          traceback: "",
        });
      } finally {
        signal.removeEventListener("abort", onAbort);
        stop();
        await closed;
        running.delete(stop);
        await rm(dir, { recursive: true, force: true });
      }
      sink.write({ type: "number_of_executions", execution_count: count });
    },
  };
}
