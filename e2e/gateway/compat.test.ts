/**
 * E2B compatibility, second round (issue 14, items 1, 5, 7, 8, 9), through the official `e2b` SDKs
 * configured only by `e2e/cluster/env`, against a chart-installed gateway in the local cluster:
 * every SDK feature with the printed environment (signed URLs, getHost, commands, files, PTY,
 * watch), a command whose sandbox is killed, metrics history by range, auto-resume through a
 * user's port (HTTP and WebSocket), and the read paths of templates, teams and v2 logs.
 */
import { CommandExitError, Sandbox, Template, TimeoutError } from "e2b";
import { connect as tlsConnect } from "node:tls";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import {
  installGatewayRelease,
  runPythonCheck,
  useSdkEnv,
  type GatewayRelease,
} from "./release.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let gw: GatewayRelease;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig());
  restoreEnv = useSdkEnv(gw);
}, 300_000);

afterAll(async () => {
  restoreEnv?.();
  await gw?.uninstall();
}, 180_000);

/** A call to the REST API with the test team's key. */
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${gw.env.E2B_API_URL}${path}`, {
    ...init,
    headers: { "X-API-Key": gw.env.E2B_API_KEY ?? "", ...init.headers },
  });

/** Polls `f` until it returns a value that is not undefined, or fails after `ms`. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

describe("item 1: what e2e/cluster/env exports makes every SDK feature work", () => {
  test("env exports no E2B_SANDBOX_URL: every envd URL names its sandbox", () => {
    expect(gw.env.E2B_API_URL).toBe(`https://api.${gw.domain}`);
    expect(gw.env.E2B_DOMAIN).toBe(gw.domain);
    expect(gw.env.E2B_API_KEY).toMatch(/^e2b_[0-9a-f]{40}$/);
    expect(gw.env.E2B_SANDBOX_URL).toBeUndefined();
  });

  test("signed URLs, getHost, commands, files, PTY and watch", async () => {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    try {
      expect(sbx.getHost(8000)).toBe(`8000-${sbx.sandboxId}.${gw.domain}`);
      expect((await sbx.commands.run("echo hi")).stdout).toBe("hi\n");

      const up = await sbx.uploadUrl("/home/user/u.txt", { useSignatureExpiration: 60_000 });
      expect(new URL(up).host).toBe(`49983-${sbx.sandboxId}.${gw.domain}`);
      const form = new FormData();
      form.append("file", new Blob(["through a signed URL"]), "u.txt");
      expect((await fetch(up, { method: "POST", body: form })).status).toBe(200);
      const down = await fetch(await sbx.downloadUrl("/home/user/u.txt"));
      expect(down.status).toBe(200);
      expect(await down.text()).toBe("through a signed URL");
      expect(await sbx.files.read("/home/user/u.txt")).toBe("through a signed URL");

      const events: string[] = [];
      const watch = await sbx.files.watchDir("/home/user", (e) => void events.push(e.name));
      await sbx.files.write("/home/user/watched.txt", "w");
      await until("a watch event", 10_000, async () =>
        events.includes("watched.txt") ? true : undefined,
      );
      await watch.stop();

      let out = "";
      const pty = await sbx.pty.create({
        cols: 80,
        rows: 24,
        onData: (d) => void (out += new TextDecoder().decode(d)),
      });
      await sbx.pty.sendInput(pty.pid, new TextEncoder().encode("echo pty-$((6*7))\nexit\n"));
      await pty.wait().catch(() => undefined);
      expect(out).toContain("pty-42");

      const server = await sbx.commands.run("python3 -m http.server 8000 --directory /home/user", {
        background: true,
      });
      const page = await until("the user's server", 20_000, async () => {
        const r = await fetch(`https://${sbx.getHost(8000)}/u.txt`);
        return r.ok ? r.text() : undefined;
      });
      expect(page).toBe("through a signed URL");
      await server.kill();
    } finally {
      await sbx.kill();
    }
  }, 180_000);

  test("the header-routed URL works for the SDK's own calls, not for URLs it hands out", async () => {
    const sandboxUrl = `https://sandbox.${gw.domain}`;
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000, sandboxUrl });
    try {
      expect((await sbx.commands.run("echo by header")).stdout).toBe("by header\n");
      const url = await sbx.downloadUrl("/etc/hostname");
      expect(new URL(url).host).toBe(`sandbox.${gw.domain}`);
      // No sandbox id in the URL and no E2b-Sandbox-Id header: it reaches the API, which wants a key.
      expect((await fetch(url)).status).toBe(401);
    } finally {
      await sbx.kill();
    }
  }, 120_000);

  test("the official Python SDK (items 1, 5, 7)", () => {
    const seen = runPythonCheck(gw, "compat_check.py", [], 200_000);
    expect(seen.sandbox_url_env).toBeNull();
    expect(seen.echo).toBe("from python\n");
    expect(seen.host).toMatch(new RegExp(`^8000-[a-z0-9]+\\.${gw.domain.replace(/\./g, "\\.")}$`));
    expect(seen.upload_status).toBe(200);
    expect(seen.download).toEqual([200, "uploaded by python"]);
    expect(seen.read).toBe("uploaded by python");
    const times = seen.metric_times as number[];
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(seen.ranged_times).toEqual([times[1]]);
    expect(seen.start_after_end).toMatch(/Invalid time range for metrics/);
    expect(seen.wait_after_kill).toMatch(
      /^SandboxNotRunningException: .*The sandbox was killed or reached its end of life/,
    );
  }, 240_000);
});

describe("item 5: a command whose sandbox is killed", () => {
  test("handle.wait() raises TimeoutError: killed or reached its end of life", async () => {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    const handle = await sbx.commands.run("sleep 300", { background: true });
    const waited = handle.wait().then(
      () => "returned",
      (err: unknown) => err,
    );
    await Sandbox.kill(sbx.sandboxId);
    const err = await waited;
    expect(err).not.toBeInstanceOf(CommandExitError);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(
      /The sandbox was killed or reached its end of life while the request was in flight/,
    );
    // The health check the SDK made: envd's /health of a deleted sandbox is E2B's 502.
    const health = await fetch(`https://49983-${sbx.sandboxId}.${gw.domain}/health`);
    expect(health.status).toBe(502);
    expect(await health.json()).toEqual({
      sandboxId: sbx.sandboxId,
      message: "The sandbox was not found",
      code: 502,
    });
    expect(await sbx.isRunning()).toBe(false);
  }, 120_000);
});

describe("item 7: metrics history", () => {
  test("getMetrics returns the 5 s samples of the sandbox's life, and a range of them", async () => {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    try {
      const all = await until("three samples", 40_000, async () => {
        const m = await sbx.getMetrics();
        return m.length >= 3 ? m : undefined;
      });
      const t = all.map((m) => m.timestamp.getTime());
      expect([...t].sort((a, b) => a - b)).toEqual(t);
      for (let i = 1; i < t.length; i++) {
        expect(t[i]! - t[i - 1]!).toBeGreaterThanOrEqual(4_000);
        expect(t[i]! - t[i - 1]!).toBeLessThanOrEqual(7_000);
      }
      expect(all[0]!.memTotal).toBeGreaterThan(0);
      const mid = all[1]!.timestamp;
      const ranged = await sbx.getMetrics({ start: mid, end: mid });
      expect(ranged.map((m) => m.timestamp.getTime())).toEqual([mid.getTime()]);
      const fromMid = await sbx.getMetrics({ start: mid });
      expect(fromMid[0]!.timestamp.getTime()).toBe(mid.getTime());
      expect(fromMid.length).toBeGreaterThanOrEqual(2);
      expect(await sbx.getMetrics({ end: new Date(t[0]! - 60_000) })).toEqual([]);

      const bad = (q: string) => api(`/sandboxes/${sbx.sandboxId}/metrics?${q}`);
      const cases: [string, number, string][] = [
        ["start=20&end=10", 400, "Invalid time range for metrics"],
        [
          "start=abc",
          400,
          'parameter "start" in query has an error: value abc: an invalid integer: invalid syntax',
        ],
        ["end=-1", 400, 'parameter "end" in query has an error: number must be at least 0'],
      ];
      for (const [q, code, message] of cases) {
        const r = await bad(q);
        expect([q, r.status, await r.json()]).toEqual([q, code, { code, message }]);
      }
    } finally {
      await sbx.kill();
    }
  }, 120_000);
});

describe("item 8: autoResume through a user's port", () => {
  test("an HTTP request and a WebSocket to a paused sandbox's port resume it", async () => {
    const sbx = await Sandbox.create("base", {
      timeoutMs: 120_000,
      lifecycle: { onTimeout: "pause", autoResume: true },
    });
    try {
      await sbx.files.write("/home/user/server.js", SERVER_JS);
      await sbx.commands.run("node /home/user/server.js", { background: true });
      const url = `https://${sbx.getHost(8000)}/hello`;
      expect(
        await until("the user's server", 20_000, async () => {
          const r = await fetch(url);
          return r.ok ? r.text() : undefined;
        }),
      ).toBe("hello from /hello");

      expect(await sbx.pause()).toBe(true);
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
      const r = await fetch(url);
      expect([r.status, await r.text()]).toEqual([200, "hello from /hello"]);
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("running");

      expect(await sbx.pause()).toBe(true);
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
      expect(await webSocketEcho(sbx.getHost(8000), "ping")).toBe("echo: ping");
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("running");
    } finally {
      await sbx.kill();
    }
  }, 180_000);

  test("a sandbox paused by its timeout is resumed by a request to its port", async () => {
    const sbx = await Sandbox.create("base", {
      timeoutMs: 8_000,
      lifecycle: { onTimeout: "pause", autoResume: true },
    });
    try {
      await sbx.files.write("/home/user/server.js", SERVER_JS);
      await sbx.commands.run("node /home/user/server.js", { background: true });
      const url = `https://${sbx.getHost(8000)}/after-timeout`;
      await until("the user's server", 20_000, async () =>
        (await fetch(url)).ok ? true : undefined,
      );
      await until("the timeout's pause", 60_000, async () =>
        (await Sandbox.getInfo(sbx.sandboxId)).state === "paused" ? true : undefined,
      );
      const r = await fetch(url);
      expect([r.status, await r.text()]).toEqual([200, "hello from /after-timeout"]);
      const info = await Sandbox.getInfo(sbx.sandboxId);
      expect(info.state).toBe("running");
      // Resumed with at least the default timeout (300 s) ahead, so it does not pause again at once.
      expect(info.endAt.getTime() - Date.now()).toBeGreaterThan(200_000);
    } finally {
      await sbx.kill();
    }
  }, 180_000);

  test("a paused sandbox without autoResume still answers 502 on its port", async () => {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    try {
      expect(await sbx.pause()).toBe(true);
      const r = await fetch(`https://${sbx.getHost(8000)}/`);
      expect(r.status).toBe(502);
      expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
    } finally {
      await sbx.kill();
    }
  }, 120_000);
});

describe("item 9: templates, teams and v2 logs", () => {
  test("GET /templates, /templates/{id}, /templates/aliases/{alias}, Template.exists", async () => {
    expect((await api(`/templates?teamID=${gw.namespace}`)).status).toBe(200);
    const list = await api("/templates");
    expect(list.status).toBe(200);
    const templates = (await list.json()) as Record<string, unknown>[];
    const base = templates.find((t) => t.templateID === "base");
    expect(base).toMatchObject({
      templateID: "base",
      buildID: expect.any(String),
      public: false,
      aliases: ["base"],
      names: ["base"],
      buildStatus: "ready",
      cpuCount: expect.any(Number),
      memoryMB: expect.any(Number),
      envdVersion: expect.any(String),
      spawnCount: expect.any(Number),
      buildCount: 1,
    });
    const one = await api("/templates/base");
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      templateID: "base",
      aliases: ["base"],
      names: ["base"],
      builds: [{ buildID: base?.buildID, status: "ready" }],
    });
    const alias = await api("/templates/aliases/base");
    expect([alias.status, await alias.json()]).toEqual([
      200,
      { templateID: "base", public: false },
    ]);
    expect(await Template.exists("base")).toBe(true);
    expect(await Template.exists("no-such-template")).toBe(false);

    const missing: [string, number, string][] = [
      ["/templates/nope", 404, "Template nope not found"],
      ["/templates?teamID=someone-else", 400, "Team ID param mismatch with the API key"],
      ["/templates/aliases/nope", 404, "template 'nope' not found"],
      [
        "/templates/aliases/Bad%20Alias!",
        400,
        expect.stringMatching(/^Invalid alias format: /) as unknown as string,
      ],
    ];
    for (const [path, code, message] of missing) {
      const r = await api(path);
      expect([path, r.status, await r.json()]).toEqual([path, code, { code, message }]);
    }
  });

  test("GET /teams is the key's team", async () => {
    const r = await api("/teams");
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual([
      { teamID: gw.namespace, name: gw.namespace, apiKey: gw.env.E2B_API_KEY, isDefault: true },
    ]);
  });

  test("GET /v2/sandboxes/{id}/logs: cursor, limit, direction, bad input", async () => {
    const sbx = await Sandbox.create("base", { timeoutMs: 120_000 });
    try {
      await sbx.commands.run(
        "for i in 1 2 3 4 5; do echo compat-line-$i > /proc/1/fd/1; sleep 0.05; done",
        { user: "root" },
      );
      type Entry = { timestamp: string; level: string; message: string; fields: object };
      const logs = async (q: string) => {
        const r = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?${q}`);
        expect([q, r.status]).toEqual([q, 200]);
        return ((await r.json()) as { logs: Entry[] }).logs;
      };
      const ours = (l: Entry[]) => l.map((e) => e.message).filter((m) => m.startsWith("compat-"));
      const all = await until("the log lines", 20_000, async () => {
        const l = await logs("direction=forward");
        return ours(l).length === 5 ? l : undefined;
      });
      expect(ours(all)).toEqual([1, 2, 3, 4, 5].map((i) => `compat-line-${i}`));
      expect(all[0]).toEqual({
        timestamp: expect.any(String),
        level: "info",
        message: expect.any(String),
        fields: {},
      });
      // Backward (the default): newest first, from the cursor down.
      const back = await logs("limit=2");
      expect(ours(back)).toEqual(["compat-line-5", "compat-line-4"]);
      const third = all.find((e) => e.message === "compat-line-3")!;
      const cursor = Date.parse(third.timestamp);
      expect(ours(await logs(`cursor=${cursor}&direction=forward`))[0]).toBe("compat-line-3");
      expect(ours(await logs(`cursor=${cursor}&direction=backward&limit=2`))).toEqual([
        "compat-line-3",
        "compat-line-2",
      ]);
      expect(await logs("limit=0")).toEqual([]);

      const bad: [string, number, string][] = [
        [
          "cursor=abc",
          400,
          'parameter "cursor" in query has an error: value abc: an invalid integer: invalid syntax',
        ],
        ["cursor=-5", 400, 'parameter "cursor" in query has an error: number must be at least 0'],
        ["limit=1001", 400, 'parameter "limit" in query has an error: number must be at most 1000'],
        [
          "limit=x",
          400,
          'parameter "limit" in query has an error: value x: an invalid integer: invalid syntax',
        ],
        [
          "direction=sideways",
          400,
          'parameter "direction" in query has an error: value is not one of the allowed values ["forward","backward"]',
        ],
      ];
      for (const [q, code, message] of bad) {
        const r = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?${q}`);
        expect([q, r.status, await r.json()]).toEqual([q, code, { code, message }]);
      }
      const unknown = await api("/v2/sandboxes/nosuchsandbox0000000/logs");
      expect(unknown.status).toBe(404);
    } finally {
      await sbx.kill();
    }
  }, 120_000);
});

/** A user's server on port 8000: HTTP `hello from <path>`, and a WebSocket echo (one text frame). */
const SERVER_JS = `
const http = require("node:http");
const crypto = require("node:crypto");
const server = http.createServer((req, res) => res.end("hello from " + req.url));
server.on("upgrade", (req, socket) => {
  const accept = crypto.createHash("sha1")
    .update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + "\\r\\n\\r\\n");
  socket.once("data", (buf) => {
    const len = buf[1] & 0x7f, mask = buf.subarray(2, 6);
    const text = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4])).toString();
    const out = Buffer.from("echo: " + text);
    socket.end(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
server.listen(8000);
`;

/**
 * Opens a WebSocket to `host` over TLS by hand (one masked text frame out, one frame back), so the
 * test sees exactly what the gateway answers to the upgrade.
 */
function webSocketEcho(host: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port: 443, servername: host }, () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    let buf = Buffer.alloc(0);
    let upgraded = false;
    socket.setTimeout(60_000, () => socket.destroy(new Error("no WebSocket answer in 60 s")));
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith("HTTP/1.1 101")) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        const payload = Buffer.from(text);
        const mask = Buffer.from([1, 2, 3, 4]);
        socket.write(
          Buffer.concat([
            Buffer.from([0x81, 0x80 | payload.length]),
            mask,
            payload.map((b, i) => b ^ mask[i % 4]!),
          ]),
        );
      }
      if (upgraded && buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
        resolve(buf.subarray(2, 2 + (buf[1]! & 0x7f)).toString());
        socket.end();
      }
    });
  });
}
