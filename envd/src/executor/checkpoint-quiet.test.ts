import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Http2Server } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as netConnect } from "node:net";
import { createLogger } from "../../../lib/log.js";
import { createCheckpointQuiet } from "./checkpoint-quiet.js";
import { listenOn } from "./server.js";

let dir: string;
let server: Http2Server;
const log = createLogger("error", { component: "test" });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "quiet-"));
  server = createServer((_req, res) => res.end("ok"));
});
afterEach(async () => {
  await new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
  await rm(dir, { recursive: true, force: true });
});

/** One GET over a fresh session on the socket; resolves to the body, rejects when it cannot connect. */
function get(socket: string) {
  return new Promise<{ body: string; session: ReturnType<typeof connect> }>((resolve, reject) => {
    const session = connect("http://x", { createConnection: () => netConnect(socket) });
    session.on("error", reject);
    const req = session.request({ ":path": "/" });
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => resolve({ body, session }));
    req.on("error", reject);
  });
}

test("enter drops open sessions and removes the socket; leave listens again", async () => {
  const socket = join(dir, "run", "executor.sock");
  const quiet = createCheckpointQuiet(server, socket, log);
  await mkdir(join(dir, "run"));
  await listenOn(server, socket);
  const { body, session } = await get(socket);
  expect(body).toBe("ok");
  const sessionClosed = new Promise((r) => session.once("close", r));

  await quiet.enter();
  expect(quiet.quiet).toBe(true);
  await sessionClosed; // the link's session is gone: nothing of it is left for CRIU to meet
  expect(existsSync(socket)).toBe(false);
  await expect(get(socket)).rejects.toThrow(/ENOENT/);
  await quiet.enter(); // idempotent

  // A restored executor may find the folder missing in its new pod's volume.
  await rm(join(dir, "run"), { recursive: true });
  await quiet.leave();
  expect(quiet.quiet).toBe(false);
  const again = await get(socket);
  expect(again.body).toBe("ok");
  again.session.close();
  await quiet.leave(); // a no-op when not quiet
  expect(server.listening).toBe(true);
});

test("the quiet ends by itself after maxQuietMs", async () => {
  const socket = join(dir, "executor.sock");
  const quiet = createCheckpointQuiet(server, socket, log, 50);
  await listenOn(server, socket);
  await quiet.enter();
  const deadline = Date.now() + 5000;
  while (quiet.quiet && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(quiet.quiet).toBe(false);
  const { body, session } = await get(socket);
  expect(body).toBe("ok");
  session.close();
});
