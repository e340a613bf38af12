/**
 * The executor's start (dist/executor.mjs as a process): the socket's folder is made when
 * missing, and a socket it cannot listen on ends it with exit code 1 and a reason, not exit 0.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketAccepts } from "../../../lib/socket-accepts.js";
import { stopChild } from "../../../lib/stop-child.js";
import { eventually } from "../../test-support/eventually.js";

const executorEntry = fileURLToPath(new URL("../../../dist/executor.mjs", import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "soulbox-executor-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test("makes the socket's missing folder and listens there", async () => {
  const socket = join(dir, "run", "soulbox", "executor.sock");
  const child = spawn(process.execPath, [executorEntry, "--socket", socket], { stdio: "ignore" });
  try {
    await eventually(async () => ((await socketAccepts(socket)) ? true : undefined), 20_000);
  } finally {
    await stopChild(child);
  }
});

test("exits 1 and says why when it cannot listen on the socket", async () => {
  await writeFile(join(dir, "file"), "not a folder");
  const socket = join(dir, "file", "executor.sock");
  const child = spawn(process.execPath, [executorEntry, "--socket", socket], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  expect(code).toBe(1);
  expect(output).toContain("cannot listen on the executor socket");
  expect(output).toContain(socket);
});
