// `./run.sh demo --envd-only`: no cluster; start envd locally (sidecar + executor) on :49983,
// point the official e2b SDK at it in debug mode, run a command, print its output as it streams,
// and stop envd again.
import { spawn } from "node:child_process";
import { once } from "node:events";

const command =
  process.argv.slice(2).join(" ") ||
  'echo "hello from $(whoami) in $(pwd)"; uname -sr; python3 --version 2>&1 || true';
const envd = spawn(
  process.execPath,
  ["dist/envd.mjs", "--port", "49983", "--host", "127.0.0.1", "--audit-log", "/dev/null"],
  {
    stdio: ["ignore", "inherit", "pipe"],
  },
);
let log = "";
envd.stderr.on("data", (d) => (log += d));

async function waitHealthy() {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (envd.exitCode !== null) throw new Error(`envd exited:\n${log}`);
    if (
      await fetch("http://127.0.0.1:49983/health").then(
        (r) => r.status === 204,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`envd did not become healthy:\n${log}`);
}

let code = 0;
try {
  await waitHealthy();
  process.env.E2B_DEBUG = "true";
  const { Sandbox } = await import("e2b");
  const sandbox = await Sandbox.create();
  console.log(`$ ${command}`);
  const result = await sandbox.commands.run(command, {
    onStdout: (d) => process.stdout.write(d),
    onStderr: (d) => process.stderr.write(d),
  });
  console.log(`exit code: ${result.exitCode}`);
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  envd.kill("SIGTERM");
  await once(envd, "exit");
}
process.exit(code);
