import { createHash } from "node:crypto";
import { once } from "node:events";
import { Agent, request, type IncomingMessage, type RequestOptions } from "node:http";
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { createLogger } from "../../../lib/log.js";
import { startFrontDoor } from "./front-door.js";
import {
  DOMAIN,
  lookupLocal,
  newSandboxId,
  readAll,
  startHarness,
  type Harness,
} from "../../test-support/harness.js";
import { createTestIndex, sandboxObject } from "../../test-support/sandboxes.js";
import {
  readTextFrame,
  startHttpUpstream,
  startWebSocketUpstream,
  textFrame,
  websocketAccept,
  type Upstream,
} from "../../test-support/upstreams.js";

// Bodies stream through with back-pressure and never whole in memory; trailers and WebSockets pass.

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

/** Registers a sandbox whose pod is `u` and returns its id. */
function sandboxFor(u: Upstream): string {
  const id = newSandboxId();
  h.index.set(sandboxObject(id, { podIP: u.podIP }));
  return id;
}

function h2session(): ClientHttp2Session {
  const s = h2connect(h.httpUrl);
  sessions.push(s);
  return s;
}

/** `count` chunks of 1 MiB, produced on demand (the source never holds more than one). */
function megabytes(count: number): Readable {
  const chunk = Buffer.alloc(1 << 20, 7);
  let left = count;
  return new Readable({
    read() {
      this.push(left-- > 0 ? chunk : null);
    },
  });
}

describe("what the upstream sees", () => {
  test.each(["http1", "http2"] as const)("over %s", async (protocol) => {
    const seen: IncomingMessage["headers"][] = [];
    const u = await startHttpUpstream((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { connection: "keep-alive", "x-from": "pod" }).end("ok");
    });
    upstreams.push(u);
    const id = sandboxFor(u);
    const route = {
      "e2b-sandbox-id": id,
      "e2b-sandbox-port": String(u.port),
      "x-hop": "drop me",
      "x-keep": "keep me",
    };
    let status = 0;
    if (protocol === "http1") {
      const r = await new Promise<IncomingMessage>((resolve, reject) =>
        request(
          `${h.httpUrl}/x`,
          {
            headers: { ...route, connection: "x-hop", "x-forwarded-for": "192.0.2.1" },
            agent: false,
          },
          resolve,
        )
          .on("error", reject)
          .end(),
      );
      status = (await readAll(r)).status;
      expect(r.headers["x-from"]).toBe("pod");
    } else {
      const stream = h2session().request({
        ":path": "/x",
        ...route,
        "x-forwarded-for": "192.0.2.1",
      });
      const [hd] = (await once(stream, "response")) as [Record<string, string>];
      stream.resume();
      status = Number(hd[":status"]);
      expect(hd["x-from"]).toBe("pod");
      expect(hd).not.toHaveProperty("connection");
    }
    expect(status).toBe(200);
    expect(seen[0]).not.toHaveProperty("e2b-sandbox-id");
    expect(seen[0]).not.toHaveProperty("e2b-sandbox-port");
    if (protocol === "http1") expect(seen[0]).not.toHaveProperty("x-hop");
    expect(seen[0]).toMatchObject({
      "x-keep": "keep me",
      "x-forwarded-for": "192.0.2.1, 127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": `127.0.0.1:${h.door.http.port}`,
      host: `127.0.0.1:${h.door.http.port}`,
    });
  });
});

describe("back-pressure, no whole-body buffering", () => {
  test.each([
    ["http1", 200],
    ["http2", 100],
  ] as const)(
    "a %s upload of %i MiB streams through with bounded memory",
    async (protocol, mib) => {
      const digest = createHash("sha256");
      let received = 0;
      const u = await startHttpUpstream((req, res) => {
        req.on("data", (c: Buffer) => {
          received += c.length;
          digest.update(c);
        });
        req.on("end", () => res.end(String(received)));
      });
      upstreams.push(u);
      const id = sandboxFor(u);
      const headers = { "e2b-sandbox-id": id, "e2b-sandbox-port": String(u.port) };
      global.gc?.();
      let sent = 0;
      let inFlight = 0; // most bytes ever sent by the client and not yet at the upstream
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
        inFlight = Math.max(inFlight, sent - received);
      }, 10);
      const source = megabytes(mib).on("data", (c: Buffer) => (sent += c.length));
      const started = Date.now();
      try {
        if (protocol === "http1") {
          const req = request(`${h.httpUrl}/upload`, { method: "POST", headers, agent: false });
          source.pipe(req);
          const [res] = (await once(req, "response")) as [IncomingMessage];
          expect((await readAll(res)).body.toString()).toBe(String(mib << 20));
        } else {
          const stream = h2session().request({ ":path": "/upload", ":method": "POST", ...headers });
          source.pipe(stream);
          let body = "";
          stream.on("data", (c: Buffer) => (body += c.toString()));
          await once(stream, "end");
          expect(body).toBe(String(mib << 20));
        }
      } finally {
        clearInterval(sampler);
      }
      const seconds = (Date.now() - started) / 1000;
      const growthMiB = (peak - baseline) / (1 << 20);
      const inFlightMiB = inFlight / (1 << 20);
      console.log(
        `${protocol} upload ${mib} MiB: ${(mib / seconds).toFixed(0)} MiB/s, ` +
          `at most ${inFlightMiB.toFixed(1)} MiB in flight, RSS growth ${growthMiB.toFixed(1)} MiB`,
      );
      expect(received).toBe(mib << 20);
      expect(digest.digest("hex")).toBe(
        createHash("sha256")
          .update(Buffer.alloc(mib << 20, 7))
          .digest("hex"),
      );
      // Buffers in between (client, two sockets each way, the proxy's streams) hold a few MiB at a
      // time; a proxy that buffered bodies would let the client run ahead by the whole upload.
      expect(inFlightMiB).toBeLessThan(32);
      // RSS also moves with garbage the collector has not reclaimed yet, so only a loose bound.
      expect(growthMiB).toBeLessThan(mib * 0.75);
    },
    60_000,
  );

  test.each(["http1", "http2"] as const)(
    "a client that does not read (%s) holds the upstream's writes back",
    async (protocol) => {
      const total = 64 << 20;
      let written = 0;
      let finished = false;
      const u = await startHttpUpstream((_req, res) => {
        const chunk = Buffer.alloc(1 << 20, 1);
        const pump = () => {
          while (written < total) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          res.end(() => (finished = true));
        };
        res.writeHead(200);
        pump();
      });
      upstreams.push(u);
      const id = sandboxFor(u);
      const headers = { "e2b-sandbox-id": id, "e2b-sandbox-port": String(u.port) };
      let body: Readable;
      if (protocol === "http1") {
        const req = request(`${h.httpUrl}/download`, { headers, agent: false });
        req.end();
        [body] = (await once(req, "response")) as [IncomingMessage];
      } else {
        body = h2session().request({ ":path": "/download", ...headers });
        await once(body, "response");
      }
      body.pause();
      await new Promise((r) => setTimeout(r, 1000));
      // Only socket and stream buffers' worth may be in flight while nobody reads.
      expect(written).toBeLessThan(24 << 20);
      expect(finished).toBe(false);
      let got = 0;
      body.on("data", (c: Buffer) => (got += c.length));
      body.resume();
      await once(body, "end");
      expect(got).toBe(total);
    },
  );
});

describe("trailers over HTTP/1.1 upstreams", () => {
  test.each(["http1", "http2"] as const)("reach a %s client", async (protocol) => {
    const u = await startHttpUpstream((_req, res) => {
      res.writeHead(200, { trailer: "x-checksum" });
      res.write("body");
      res.addTrailers({ "x-checksum": "abc123" });
      res.end();
    });
    upstreams.push(u);
    const headers = { "e2b-sandbox-id": sandboxFor(u), "e2b-sandbox-port": String(u.port) };
    if (protocol === "http1") {
      const req = request(`${h.httpUrl}/t`, { headers, agent: false });
      req.end();
      const [res] = (await once(req, "response")) as [IncomingMessage];
      expect((await readAll(res)).body.toString()).toBe("body");
      expect(res.trailers).toEqual({ "x-checksum": "abc123" });
    } else {
      const stream = h2session().request({ ":path": "/t", ...headers });
      const trailers = once(stream, "trailers");
      stream.resume();
      expect((await trailers)[0]).toMatchObject({ "x-checksum": "abc123" });
    }
  });
});

describe("WebSocket through a user port", () => {
  /** Opens a WebSocket with a hand-rolled handshake; returns the socket and the 101's headers. */
  async function openWebSocket(
    via: "host-plain" | "host-tls" | "headers",
    id: string,
    port: number,
  ): Promise<{ socket: Socket; res: IncomingMessage; head: Buffer }> {
    const key = Buffer.from("0123456789abcdef").toString("base64");
    const headers: Record<string, string> = {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": key,
    };
    const name = `${port}-${id}.${DOMAIN}`;
    const common: RequestOptions = { path: "/ws", headers, lookup: lookupLocal, agent: false };
    const req =
      via === "host-tls"
        ? httpsRequest({ ...common, host: name, port: h.door.https?.port, ca: h.certs.ca })
        : via === "host-plain"
          ? request({ ...common, host: name, port: h.door.http.port })
          : request({
              ...common,
              host: "127.0.0.1",
              port: h.door.http.port,
              headers: { ...headers, "e2b-sandbox-id": id, "e2b-sandbox-port": String(port) },
            });
    req.end();
    const [res, socket, head] = (await once(req, "upgrade")) as [IncomingMessage, Socket, Buffer];
    expect(res.statusCode).toBe(101);
    expect(res.headers["sec-websocket-accept"]).toBe(websocketAccept(key));
    return { socket, res, head };
  }

  test.each(["host-plain", "host-tls", "headers"] as const)("echo over %s", async (via) => {
    const ws = await startWebSocketUpstream();
    upstreams.push(ws);
    const id = sandboxFor(ws);
    const { socket } = await openWebSocket(via, id, ws.port);
    for (const word of ["hello", "again"]) {
      socket.write(textFrame(word, Buffer.from([1, 2, 3, 4])));
      const [frame] = (await once(socket, "data")) as [Buffer];
      expect(readTextFrame(frame)).toBe(word.toUpperCase());
    }
    socket.destroy();
    const seen = ws.seen.at(-1);
    expect(seen).toMatchObject({ upgrade: "websocket", "x-forwarded-for": "127.0.0.1" });
    expect(seen?.["x-forwarded-proto"]).toBe(via === "host-tls" ? "https" : "http");
    expect(seen).not.toHaveProperty("e2b-sandbox-id");
  });

  test("an upgrade to an unknown sandbox gets a 502 {code, message}", async () => {
    const id = newSandboxId();
    const req = request({
      host: "127.0.0.1",
      port: h.door.http.port,
      path: "/ws",
      agent: false,
      headers: { connection: "Upgrade", upgrade: "websocket", "e2b-sandbox-id": id },
    });
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    const r = await readAll(res);
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString())).toEqual({
      sandboxId: id,
      message: "The sandbox was not found",
      code: 502,
    });
  });
});

describe("close()", () => {
  test("ends idle keep-alive connections and HTTP/2 sessions, then resolves", async () => {
    const door = await startFrontDoor({
      host: "127.0.0.1",
      httpPort: 0,
      domain: DOMAIN,
      index: createTestIndex(),
      apiHandler: (_req, res) => void res.end("api"),
      log: createLogger("error"),
    });
    const agent = new Agent({ keepAlive: true });
    const req = request(`http://127.0.0.1:${door.http.port}/`, { agent });
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    await readAll(res);
    const session = h2connect(`http://127.0.0.1:${door.http.port}`);
    sessions.push(session);
    const stream = session.request({ ":path": "/" });
    stream.resume();
    await once(stream, "end");
    const sessionClosed = once(session, "close");
    const started = Date.now();
    await door.close();
    await sessionClosed;
    expect(Date.now() - started).toBeLessThan(2000);
    agent.destroy();
  });
});
