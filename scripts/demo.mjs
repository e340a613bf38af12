// The main job (`./run.sh demo [command]`): bring up a local SoulBox (e2e/cluster/up: the control
// plane, a node, the images and the chart with the operator and the gateway; minutes on the first
// run, seconds afterwards), then run scripts/demo-sdk.mjs — the official e2b SDK, configured only
// by the environment e2e/cluster/env prints — to create a sandbox, run a command with its output
// streaming, write and read a file, and kill the sandbox. The cluster stays up for you to explore;
// `e2e/cluster/down` takes it down. `./run.sh demo --envd-only [command]` skips the cluster and
// talks to a local envd instead (scripts/demo-envd.mjs).
import { spawn, spawnSync } from "node:child_process";

const args = process.argv.slice(2);
if (args[0] === "--envd-only") {
  const r = spawnSync(process.execPath, ["scripts/demo-envd.mjs", ...args.slice(1)], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

console.error("demo: bringing up the local SoulBox (e2e/cluster/up)");
const up = spawnSync("e2e/cluster/up", [], { stdio: ["ignore", "ignore", "inherit"] });
if (up.status !== 0) {
  console.error("demo: e2e/cluster/up failed (its messages are above)");
  process.exit(1);
}
const env = spawnSync("e2e/cluster/env", [], { encoding: "utf8" });
if (env.status !== 0) {
  console.error(`demo: e2e/cluster/env failed: ${env.stderr}`);
  process.exit(1);
}
const vars = {};
for (const line of env.stdout.split("\n")) {
  const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
  if (m) vars[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
}
console.error(`demo: E2B_API_URL=${vars.E2B_API_URL} E2B_DOMAIN=${vars.E2B_DOMAIN}`);
// A child process: NODE_EXTRA_CA_CERTS is only read when Node starts.
const child = spawn(process.execPath, ["scripts/demo-sdk.mjs", ...args], {
  stdio: "inherit",
  env: { ...process.env, ...vars },
});
child.on("exit", (code) => {
  console.error("demo: the local SoulBox is still up; `e2e/cluster/down` takes it down");
  process.exit(code ?? 1);
});
