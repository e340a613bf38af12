import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { connect as netConnect } from "node:net";
import { Process } from "../../../api/gen/envd/process/process_pb.js";

const executor = fileURLToPath(new URL("../../../dist/executor.mjs", import.meta.url));

test("the executor runs the template's start command after `--`, tagged, with its output on stdout", async () => {
  const dir = mkdtempSync(join(tmpdir(), "exec-"));
  const socket = join(dir, "executor.sock");
  const child = spawn(
    process.execPath,
    [executor, "--socket", socket, "--", "/bin/sh", "-c", "echo started-$((20+22)); sleep 30"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const sessions = new Http2SessionManager("http://executor", undefined, {
    createConnection: () => netConnect(socket),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!out.includes("started-42")) {
      if (Date.now() > deadline) throw new Error(`no start output: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const client = createClient(
      Process,
      createGrpcTransport({ baseUrl: "http://executor", sessionManager: sessions }),
    );
    const list = await client.list({});
    const start = list.processes.find((p) => p.tag === "start-cmd");
    expect(start?.config?.args).toEqual(["-c", "echo started-$((20+22)); sleep 30"]);
  } finally {
    sessions.abort();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
});
