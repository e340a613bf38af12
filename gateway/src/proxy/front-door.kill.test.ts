import { once } from "node:events";
import { connect as h2connect } from "node:http2";
import { CommandExitError, Sandbox, TimeoutError } from "e2b";
import { ENVD_VERSION } from "../sandboxes/sandbox-state.js";
import { sandboxObject } from "../../test-support/sandboxes.js";
import { startHarness, type Harness } from "../../test-support/harness.js";

// A sandbox deleted while the official SDK waits on a command (issue 14, item 5): the front door
// cuts the stream on the cache's deletion event, the SDK's /health check gets the 502 "not found",
// and `wait()` raises E2B's TimeoutError instead of an exit status. A real envd runs the command.

type SandboxCtor = new (opts: Record<string, unknown>) => Sandbox;

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h?.stop();
});

const sdk = (via: Record<string, unknown>) =>
  new (Sandbox as unknown as SandboxCtor)({
    sandboxId: h.id,
    envdVersion: ENVD_VERSION,
    envdAccessToken: h.token,
    ...via,
  });

test.each<[string, () => Record<string, unknown>, (id: string) => void]>([
  [
    "marked for deletion, header routing",
    () => ({ sandboxUrl: h.httpUrl }),
    (id) => h.index.set(sandboxObject(id, { podIP: h.envd.podIP, deleting: true })),
  ],
  [
    "gone from the cache, header routing",
    () => ({ sandboxUrl: h.httpUrl }),
    (id) => h.index.delete(id),
  ],
])(
  "a command's wait() when its sandbox is %s",
  async (_name, via, kill) => {
    const sbx = sdk(via());
    const handle = await sbx.commands.run("sleep 30", { background: true });
    const waited = handle.wait().then(
      () => "returned",
      (err: unknown) => err,
    );
    kill(h.id);
    const err = await waited;
    expect(err).not.toBeInstanceOf(CommandExitError);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(
      /The sandbox was killed or reached its end of life while the request was in flight/,
    );
    expect(await sbx.isRunning()).toBe(false);
  },
  20_000,
);

test("an HTTP/2 stream of a deleted sandbox is reset; another sandbox's is not touched", async () => {
  const session = h2connect(h.httpUrl);
  try {
    const open = (id: string) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/process.Process/Start",
        "content-type": "application/connect+json",
        "e2b-sandbox-id": id,
        "x-access-token": h.token,
      });
      const body = JSON.stringify({ process: { cmd: "/bin/sh", args: ["-c", "sleep 30"] } });
      const frame = Buffer.alloc(5 + Buffer.byteLength(body));
      frame.writeUInt32BE(Buffer.byteLength(body), 1);
      frame.write(body, 5);
      stream.end(frame);
      const errors: Error[] = [];
      stream.on("error", (err: Error) => void errors.push(err));
      return Object.assign(stream, { errors });
    };
    const other = "othersandbox00000000";
    h.index.set(sandboxObject(other, { podIP: h.envd.podIP }));
    const mine = open(h.id);
    const theirs = open(other);
    await Promise.all([once(mine, "response"), once(theirs, "response")]);
    // The start event has come through: both streams are up.
    await Promise.all([once(mine, "data"), once(theirs, "data")]);
    // Not events.once: it would reject on the stream's error, which is the point here.
    const closed = new Promise((r) => mine.once("close", r));
    h.index.delete(h.id);
    await closed;
    expect(mine.rstCode).toBeGreaterThan(0);
    expect(mine.errors.map((e) => e.message)).toEqual([
      "Stream closed with error code NGHTTP2_INTERNAL_ERROR",
    ]);
    expect(theirs.closed).toBe(false);
    expect(theirs.errors).toEqual([]);
    theirs.close();
  } finally {
    session.destroy();
  }
});
