/**
 * `soulbox-edge serve <module.js> --port N`: serves a Web-standard fetch handler module
 * (`export default { fetch(request) { ... } }`) with workerd on a port of the sandbox, on every
 * interface, so the SDK's `getHost(port)` reaches it through the gateway. It runs until SIGTERM or
 * SIGINT, then stops workerd and removes its working directory. (runCode with language "edge" is
 * the one-shot form: one request, the response as the result.)
 */
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../lib/flags.js";
import { COMPATIBILITY_DATE, workerdConfig } from "./runtimes/edge.js";

const USAGE =
  "usage: soulbox-edge serve <module.js> --port N [--host H] [--compatibility-date YYYY-MM-DD] [--workerd PATH]";

/** What `soulbox-edge serve` was asked to do. */
export interface EdgeServeOptions {
  module: string;
  port: number;
  host: string;
  compatibilityDate: string;
  workerd: string;
}

/** Parses `serve <module> --port N ...`; a ConfigError says what is wrong and how to call it. */
export function parseEdgeServeArgs(argv: string[]): EdgeServeOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        port: { type: "string" },
        host: { type: "string", default: "*" },
        "compatibility-date": { type: "string", default: COMPATIBILITY_DATE },
        workerd: { type: "string", default: "workerd" },
      },
    });
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`, {
      cause: err,
    });
  }
  const [command, module, ...extra] = parsed.positionals;
  if (command !== "serve" || !module || extra.length > 0) throw new ConfigError(USAGE);
  const port = Number(parsed.values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigError(`--port must be a port number (1-65535), got '${parsed.values.port}'`);
  const date = parsed.values["compatibility-date"];
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new ConfigError(`--compatibility-date must be YYYY-MM-DD, got '${date}'`);
  const host = parsed.values.host;
  // Goes into workerd's config text: an address, nothing that could close the string.
  if (!/^(\*|[A-Za-z0-9.:[\]-]+)$/.test(host))
    throw new ConfigError(`--host must be an address or *, got '${host}'`);
  return {
    module: resolve(module),
    port,
    host,
    compatibilityDate: date,
    workerd: parsed.values.workerd,
  };
}

/**
 * Runs workerd for the module until a signal; resolves with the exit code to use (workerd's own,
 * or 0 after a signal we passed on).
 */
export async function serveEdge(opts: EdgeServeOptions): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-edge-serve-"));
  try {
    await copyFile(opts.module, join(dir, "worker.js"));
    await writeFile(
      join(dir, "config.capnp"),
      workerdConfig(opts.port, opts.compatibilityDate, opts.host),
    );
    const child = spawn(opts.workerd, ["serve", "config.capnp"], { cwd: dir, stdio: "inherit" });
    let stopping = false;
    const stop = () => {
      stopping = true;
      child.kill("SIGTERM");
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    const code = await new Promise<number>((done, fail) => {
      child.once("error", fail);
      child.once("exit", (c, signal) => done(stopping ? 0 : (c ?? (signal ? 1 : 0))));
    });
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    return code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The `edge` subcommand of the interpreter's bundle (the image's soulbox-edge wraps it). */
export async function edgeMain(argv: string[]): Promise<number> {
  try {
    return await serveEdge(parseEdgeServeArgs(argv));
  } catch (err) {
    process.stderr.write(`soulbox-edge: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
