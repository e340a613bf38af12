import { request } from "node:http";
import { connect as h2connect, constants, type ClientHttp2Session } from "node:http2";
import { Sandbox, SandboxNotFoundError } from "e2b";
import type { Sandbox as SandboxObject } from "../../../api/gen/crd-types.js";
import { ENVD_PORT, ENVD_VERSION } from "../sandboxes/sandbox-state.js";
import { randomLoopbackIp } from "../../test-support/pod-envd.js";
import {
  DOMAIN,
  newSandboxId,
  readAll,
  startHarness,
  tlsRequest,
  type Harness,
  type ReadResponse,
} from "../../test-support/harness.js";
import { sandboxObject } from "../../test-support/sandboxes.js";
import {
  startH2cUpstream,
  startHttpUpstream,
  type Upstream,
} from "../../test-support/upstreams.js";

// Bad input and faults: each answer in the shape the SDK reads ({code, message}, 502 = not
// running), and aborts passed on in both directions.

type SandboxCtor = new (opts: Record<string, unknown>) => Sandbox;
const sdkAt = (h: Harness, id: string) =>
  new (Sandbox as unknown as SandboxCtor)({
    sandboxId: id,
    envdVersion: ENVD_VERSION,
    envdAccessToken: h.token,
    sandboxUrl: h.httpUrl,
  });

let h: Harness;
const upstreams: Upstream[] = [];
const sessions: ClientHttp2Session[] = [];
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const s of sessions) s.destroy();
  for (const u of upstreams) await u.close();
  await h?.stop();
});

/** GET through the plain port with the routing headers. */
function viaHeaders(
  id: string,
  path = "/health",
  extra: Record<string, string> = {},
): Promise<ReadResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${h.httpUrl}${path}`,
      { headers: { "e2b-sandbox-id": id, "x-access-token": h.token, ...extra }, agent: false },
      (res) => void readAll(res).then(resolve, reject),
    );
    req.on("error", reject);
    req.end();
  });
}

const json = (r: ReadResponse): unknown => JSON.parse(r.body.toString());

/** Adds a sandbox of the given shape whose pod is the harness's envd. */
function addSandbox(shape: Parameters<typeof sandboxObject>[1] = {}): string {
  const id = newSandboxId();
  h.index.set(sandboxObject(id, { podIP: h.envd.podIP, ...shape }));
  return id;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("sandboxes that cannot take traffic answer 502 {code, message}", () => {
  test("unknown id, over headers and over a TLS Host name; the SDK reads 'not running'", async () => {
    const id = newSandboxId();
    const r = await viaHeaders(id);
    expect(r.status).toBe(502);
    expect(r.headers["content-type"]).toBe("application/json");
    const notFound = { sandboxId: id, message: "The sandbox was not found", code: 502 };
    expect(json(r)).toEqual(notFound);
    const t = await tlsRequest(h, `49983-${id}.${DOMAIN}`, "/health");
    expect(t.status).toBe(502);
    expect(json(t)).toEqual(notFound);

    const sbx = sdkAt(h, id);
    expect(await sbx.isRunning()).toBe(false);
    await expect(sbx.commands.run("true")).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  test.each<[string, Parameters<typeof sandboxObject>[1], string | undefined]>([
    ["paused", { phase: "Paused", state: "Paused" }, "is paused"],
    ["failed", { phase: "Failed" }, "has failed"],
    ["still starting", { phase: "Starting" }, "is not running (phase Starting)"],
    // Gone or about to be: E2B's not-found answer.
    ["being deleted", { deleting: true }, undefined],
    ["expired", { expiresAt: new Date(Date.now() - 1000) }, undefined],
  ])("%s", async (_name, shape, message) => {
    const id = addSandbox(shape);
    const r = await viaHeaders(id);
    expect(r.status).toBe(502);
    expect(json(r)).toEqual(
      message === undefined
        ? { sandboxId: id, message: "The sandbox was not found", code: 502 }
        : { code: 502, message: `sandbox ${id} ${message}` },
    );
    expect(await sdkAt(h, id).isRunning()).toBe(false);
  });

  test("a sandbox given a 5 s timeout answers until then and not after (clock moved)", async () => {
    const id = addSandbox({ expiresAt: new Date(Date.now() + 5000) });
    expect((await viaHeaders(id)).status).toBe(204);
    h.clockOffsetMs = 5000;
    try {
      expect(json(await viaHeaders(id))).toEqual({
        sandboxId: id,
        message: "The sandbox was not found",
        code: 502,
      });
    } finally {
      h.clockOffsetMs = 0;
    }
  });

  test("and in real time: a 1 s timeout stops answering within 1 s of expiry", async () => {
    const expiry = Date.now() + 1000;
    const id = addSandbox({ expiresAt: new Date(expiry) });
    expect((await viaHeaders(id)).status).toBe(204);
    let status = 204;
    while (status === 204 && Date.now() < expiry + 3000) {
      status = (await viaHeaders(id)).status;
      if (status === 204) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(502);
    expect(Date.now() - expiry).toBeLessThan(1000);
  });
});

describe("auto-resume", () => {
  test("paused with auto-resume: concurrent first requests resume it once, then go through", async () => {
    const id = addSandbox({ phase: "Paused", state: "Paused", autoResume: true });
    const resumed: string[] = [];
    h.onResume = async (s: SandboxObject) => {
      resumed.push(s.metadata.name ?? "");
      await new Promise((r) => setTimeout(r, 100)); // the operator thawing it
      const running = sandboxObject(id, { podIP: h.envd.podIP, autoResume: true });
      h.index.set(running);
      return running;
    };
    const results = await Promise.all([viaHeaders(id), viaHeaders(id), viaHeaders(id)]);
    expect(results.map((r) => r.status)).toEqual([204, 204, 204]);
    expect(resumed).toEqual([id]);
    expect((await viaHeaders(id)).status).toBe(204);
    expect(resumed).toEqual([id]); // running now: no second resume
  });

  test("a client that leaves while its sandbox resumes is not forwarded", async () => {
    let requests = 0;
    const u = await startHttpUpstream((_req, res) => (requests++, res.end("late")));
    upstreams.push(u);
    const id = newSandboxId();
    h.index.set(
      sandboxObject(id, { podIP: u.podIP, phase: "Paused", state: "Paused", autoResume: true }),
    );
    let resumed = false;
    h.onResume = async () => {
      await new Promise((r) => setTimeout(r, 300));
      const running = sandboxObject(id, { podIP: u.podIP, autoResume: true });
      h.index.set(running);
      resumed = true;
      return running;
    };
    const req = request(`${h.httpUrl}/`, {
      headers: { "e2b-sandbox-id": id, "e2b-sandbox-port": String(u.port) },
      agent: false,
    });
    req.on("error", () => undefined);
    req.end();
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await waitFor("the resume to finish", () => resumed);
    await new Promise((r) => setTimeout(r, 100));
    expect(requests).toBe(0);
  });

  test("a resume that fails is a 502 that says why", async () => {
    const id = addSandbox({ phase: "Paused", state: "Paused", autoResume: true });
    h.onResume = () => Promise.reject(new Error("no capacity on any node"));
    const r = await viaHeaders(id);
    expect(json(r)).toEqual({
      code: 502,
      message: `sandbox ${id} could not be resumed: no capacity on any node`,
    });
  });
});

describe("bad routing input answers 400 {code, message}", () => {
  test.each<[string, Record<string, string>]>([
    ["non-numeric port header", { "e2b-sandbox-id": "abc", "e2b-sandbox-port": "http" }],
    ["port header out of range", { "e2b-sandbox-id": "abc", "e2b-sandbox-port": "70000" }],
    ["bad id header", { "e2b-sandbox-id": "not-an-id" }],
  ])("%s", async (_name, headers) => {
    const r = await new Promise<ReadResponse>((resolve, reject) => {
      request(
        `${h.httpUrl}/health`,
        { headers, agent: false },
        (res) => void readAll(res).then(resolve, reject),
      )
        .on("error", reject)
        .end();
    });
    expect(r.status).toBe(400);
    expect(json(r)).toMatchObject({ code: 400, message: expect.stringMatching(/^invalid /) });
  });

  test.each([`99999-${"a".repeat(20)}`, `x1-${"a".repeat(20)}`, "3000-bad_id"])(
    "Host %s.<domain> over TLS",
    async (label) => {
      const r = await tlsRequest(h, `${label}.${DOMAIN}`, "/health");
      expect(r.status).toBe(400);
      expect(json(r)).toMatchObject({ code: 400 });
    },
  );
});

describe("upstream faults", () => {
  test("nothing listening at the pod: 502 over HTTP/1.1 and over h2c", async () => {
    const id = newSandboxId();
    h.index.set(sandboxObject(id, { podIP: randomLoopbackIp() }));
    const r = await viaHeaders(id);
    expect(r.status).toBe(502);
    expect(json(r)).toMatchObject({
      code: 502,
      message: expect.stringContaining(`sandbox ${id}: port ${ENVD_PORT} is not reachable`),
    });

    const s = h2connect(h.httpUrl);
    sessions.push(s);
    const stream = s.request({ ":path": "/health", "e2b-sandbox-id": id });
    const [status, body] = await new Promise<[number, string]>((resolve) => {
      let st = 0;
      let b = "";
      stream.on("response", (hd) => (st = Number(hd[":status"])));
      stream.on("data", (c: Buffer) => (b += c.toString()));
      stream.on("end", () => resolve([st, b]));
    });
    expect(status).toBe(502);
    expect(JSON.parse(body)).toMatchObject({ code: 502 });
  });

  test("an upstream that breaks off mid-body cuts the client's response (not a clean end)", async () => {
    const u = await startHttpUpstream((_req, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 50);
    });
    upstreams.push(u);
    const id = newSandboxId();
    h.index.set(sandboxObject(id, { podIP: u.podIP }));
    const outcome = await new Promise<string>((resolve) => {
      const req = request(
        `${h.httpUrl}/`,
        { headers: { "e2b-sandbox-id": id, "e2b-sandbox-port": String(u.port) }, agent: false },
        (res) => {
          res.on("data", () => undefined);
          res.on("end", () => resolve(res.complete ? "complete" : "incomplete"));
          res.on("error", () => resolve("error"));
          res.on("aborted", () => resolve("aborted"));
        },
      );
      req.on("error", () => resolve("error"));
      req.end();
    });
    expect(outcome).not.toBe("complete");
  });
});

describe("client aborts reach the upstream", () => {
  /** An upstream that starts an endless response and records when its request goes away. */
  async function endlessUpstream() {
    const seen = { requests: 0, closed: 0 };
    const u = await startHttpUpstream((req, res) => {
      seen.requests++;
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first chunk\n");
      res.once("close", () => seen.closed++);
    });
    upstreams.push(u);
    const id = newSandboxId();
    h.index.set(sandboxObject(id, { podIP: u.podIP }));
    return { u, id, seen };
  }

  test("HTTP/1.1 client goes away mid-response", async () => {
    const { u, id, seen } = await endlessUpstream();
    await new Promise<void>((resolve) => {
      const req = request(
        `${h.httpUrl}/stream`,
        { headers: { "e2b-sandbox-id": id, "e2b-sandbox-port": String(u.port) }, agent: false },
        (res) => res.once("data", () => (req.destroy(), resolve())),
      );
      req.on("error", () => undefined);
      req.end();
    });
    await waitFor("the upstream to see the abort", () => seen.closed === 1);
  });

  test("HTTP/2 client cancels its stream (forwarded over HTTP/1.1 to a user port)", async () => {
    const { u, id, seen } = await endlessUpstream();
    const s = h2connect(h.httpUrl);
    sessions.push(s);
    const stream = s.request({
      ":path": "/stream",
      "e2b-sandbox-id": id,
      "e2b-sandbox-port": String(u.port),
    });
    await new Promise((r) => stream.once("data", r));
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor("the upstream to see the abort", () => seen.closed === 1);
    s.close();
  });

  test("HTTP/2 client cancels its stream (forwarded over h2c to port 49983)", async () => {
    let upstreamClosed = 0;
    const u = await startH2cUpstream(ENVD_PORT, (stream) => {
      stream.respond({ ":status": 200 });
      stream.write("first chunk\n");
      stream.once("close", () => upstreamClosed++);
    });
    upstreams.push(u);
    const id = newSandboxId();
    h.index.set(sandboxObject(id, { podIP: u.podIP }));
    const s = h2connect(h.httpUrl);
    sessions.push(s);
    const stream = s.request({ ":path": "/stream", "e2b-sandbox-id": id });
    await new Promise((r) => stream.once("data", r));
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor("the upstream stream to close", () => upstreamClosed === 1);
    s.close();
  });

  test("a client that leaves mid-upload aborts the upstream request", async () => {
    let aborted = 0;
    const u = await startHttpUpstream((req, res) => {
      req.resume();
      req.once("close", () => {
        if (!req.complete) aborted++;
        res.destroy();
      });
    });
    upstreams.push(u);
    const id = newSandboxId();
    h.index.set(sandboxObject(id, { podIP: u.podIP }));
    const req = request(`${h.httpUrl}/upload`, {
      method: "POST",
      headers: {
        "e2b-sandbox-id": id,
        "e2b-sandbox-port": String(u.port),
        "content-length": "1000000",
      },
      agent: false,
    });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(10_000));
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await waitFor("the upstream to see the upload cut", () => aborted === 1);
  });
});

describe("metrics", () => {
  test("requests are counted by outcome and bytes by direction", async () => {
    const text = await h.registry.metrics();
    // This runs last in the file: the tests above produced every outcome.
    for (const outcome of [
      "forwarded",
      "bad_request",
      "unavailable",
      "upstream_error",
      "client_aborted",
    ])
      expect(text).toMatch(
        new RegExp(
          `soulbox_gateway_proxy_requests_total\\{protocol="http1",outcome="${outcome}"\\} [1-9]`,
        ),
      );
    expect(text).toMatch(
      /soulbox_gateway_proxy_requests_total\{protocol="http2",outcome="client_aborted"\} [1-9]/,
    );
    expect(text).toMatch(/soulbox_gateway_proxy_bytes_total\{direction="out"\} [1-9]/);
    // Two resumes above: one shared by three concurrent requests, one whose client left.
    expect(text).toMatch(/soulbox_gateway_proxy_resumes_total\{result="ok"\} 2/);
    expect(text).toMatch(/soulbox_gateway_proxy_resumes_total\{result="error"\} 1/);
    expect(h.logs.some((l) => l.includes("upstream request failed"))).toBe(true);
  });
});
