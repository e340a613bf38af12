/**
 * The node agent's quiet signals against the real executor (dist/executor.mjs) in a child process.
 * containerd is the boundary here: `ctr` is a script that answers `tasks ls` with the executor's
 * pid and turns `tasks kill --signal S` into `kill -S` (the real ctr is used by
 * e2e/snapshots/memory.test.ts). The executor's socket is seen through /proc/<pid>/root, as on a node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketAccepts } from "../../../lib/socket-accepts.js";
import { stopChild } from "../../../lib/stop-child.js";
import type { ContainerdClient } from "./checkpoint-image.js";
import { QuietError, enterQuiet, leaveQuiet } from "./quiet.js";

const executorEntry = fileURLToPath(new URL("../../../dist/executor.mjs", import.meta.url));
const ID = "c".repeat(64);
let dir: string;
let socket: string;
let executor: ChildProcess;
let ctr: ContainerdClient;

/** Resolves once the executor's socket takes connections (20 s at most). */
async function untilListening(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await socketAccepts(socket))) {
    if (Date.now() > deadline) throw new Error(`the executor does not listen on ${socket}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "soulbox-quiet-"));
  socket = join(dir, "executor.sock");
  executor = spawn(process.execPath, [executorEntry, "--socket", socket], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const pid = executor.pid;
  if (pid === undefined) throw new Error("the executor did not start");
  const script = join(dir, "ctr");
  // ctr --address A --namespace N tasks ls | tasks kill --signal S ID
  await writeFile(
    script,
    [
      "#!/bin/bash",
      'shift 4; case "$1 $2" in',
      `"tasks ls") echo "TASK PID STATUS"; echo "${ID} ${pid} RUNNING";;`,
      `"tasks kill") kill -"\${4#SIG}" ${pid};;`,
      '*) echo "unexpected: $*" >&2; exit 2;;',
      "esac",
    ].join("\n"),
  );
  await chmod(script, 0o755);
  ctr = { ctr: script, address: join(dir, "containerd.sock") };
  await untilListening();
});

afterEach(async () => {
  executor.kill("SIGCONT");
  await stopChild(executor);
  await rm(dir, { recursive: true, force: true });
});

test("enterQuiet returns once the socket is gone; leaveQuiet once it takes connections again", async () => {
  await enterQuiet(ctr, ID, socket);
  expect(existsSync(socket)).toBe(false);
  expect(await socketAccepts(socket)).toBe(false);
  await leaveQuiet(ctr, ID, socket);
  // No wait here: whoever uses the sandbox right after must reach the executor.
  expect(await socketAccepts(socket)).toBe(true);
});

test("leaveQuiet names the socket that does not come back in time", async () => {
  await enterQuiet(ctr, ID, socket);
  executor.kill("SIGSTOP"); // it cannot handle the SIGHUP
  const err = await leaveQuiet(ctr, ID, socket, 300).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(QuietError);
  expect((err as Error).message).toMatch(/does not listen on .*executor\.sock 300 ms after/);
  executor.kill("SIGCONT");
  // The signal was sent: once running again, the executor listens.
  await untilListening();
});
