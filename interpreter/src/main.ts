/**
 * soulbox code interpreter: the main flow.
 * 1. flags → config (port, binaries of the runtimes, the Python helper's directory);
 * 2. the context registry (one kernel or shell per context) and the HTTP API on :49999;
 * 3. warm the default Python context in the background, as E2B's template does, so the first
 *    runCode does not pay a kernel start (requests before it is ready wait for it);
 * 4. SIGTERM/SIGINT: stop listening, shut every kernel down, exit.
 * (`code-interpreter.mjs edge serve <module> --port N` is the edge runtime's serve mode instead,
 * edge-serve.ts; the image's soulbox-edge runs it.)
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, logLevelFlag } from "../../lib/flags.js";
import { createLogger } from "../../lib/log.js";
import { createContexts } from "./contexts.js";
import { edgeMain } from "./edge-serve.js";
import { createInterpreterServer } from "./server.js";

if (process.argv[2] === "edge") process.exit(await edgeMain(process.argv.slice(3)));

const f = parseFlags(process.argv.slice(2), {
  port: { type: "string", default: "49999" },
  host: { type: "string", default: "0.0.0.0" },
  cwd: { type: "string", default: process.env.HOME ?? "/" },
  python: { type: "string", default: "python3" },
  deno: { type: "string", default: "deno" },
  bun: { type: "string", default: "bun" },
  node: { type: "string", default: process.execPath },
  bash: { type: "string", default: "bash" },
  workerd: { type: "string", default: "workerd" },
  r: { type: "string", default: "R" },
  java: { type: "string", default: "java" },
  "java-kernel-dir": { type: "string" },
  "helper-dir": { type: "string" },
  "no-warm": { type: "boolean", default: false },
  "log-level": { type: "string", default: "info" },
});
const log = createLogger(logLevelFlag(f["log-level"]), { component: "soulbox-interpreter" });
const here = dirname(fileURLToPath(import.meta.url));
// The bundle ships soulbox_kernel.py beside itself (scripts/build.mjs); from source it is in ../python.
const helperDir =
  f["helper-dir"] ??
  (existsSync(join(here, "soulbox_kernel.py")) ? here : join(here, "..", "python"));

const contexts = createContexts({
  config: {
    python: f.python,
    deno: f.deno,
    bun: f.bun,
    node: f.node,
    bash: f.bash,
    workerd: f.workerd,
    r: f.r,
    java: f.java,
    // The bundle ships the Java kernel's jars in java-kernel/ beside itself (interpreter/java/build.sh).
    javaKernelDir: f["java-kernel-dir"] ?? join(here, "java-kernel"),
    helperDir,
  },
  env: process.env,
  defaultCwd: f.cwd,
  log,
});
const server = createInterpreterServer(contexts, log);
server.listen(Number(f.port), f.host, () => {
  const addr = server.address();
  log.info("listening", { port: typeof addr === "object" && addr ? addr.port : f.port });
  if (!f["no-warm"])
    contexts
      .defaultFor("python")
      .catch((err: unknown) => log.warn("the default Python context did not start", { err }));
});

for (const sig of ["SIGTERM", "SIGINT"] as const)
  process.once(sig, () => {
    server.close();
    server.closeAllConnections();
    void contexts.closeAll().finally(() => process.exit(0));
  });
