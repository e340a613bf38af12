import { createServer as createHttp1Server, request } from "node:http";
import { connect as connectHttp2, createServer as createHttp2Server } from "node:http2";
import { connect, type AddressInfo, type Server } from "node:net";
import { createDualProtocolListener, H2_PREFACE } from "./dual-protocol-listener.js";

const h1 = createHttp1Server((_req, res) => res.end("h1"));
const h2 = createHttp2Server((_req, res) => res.end("h2"));
let front: Server;
let port: number;

beforeAll(async () => {
  front = createDualProtocolListener({ http1: h1, http2: h2, sniffTimeoutMs: 2000 });
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
  port = (front.address() as AddressInfo).port;
});
afterAll(async () => {
  h1.closeAllConnections();
  await new Promise<void>((r) => front.close(() => r()));
  await new Promise<void>((r) => h2.close(() => r()));
});

/**
 * Writes `parts` one by one, each after the previous has left the socket, and reads until the
 * connection closes or `enough` says the answer so far is all the test needs.
 */
function raw(parts: (string | Buffer)[], enough: (answer: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      answer = Buffer.concat([answer, c]);
      if (enough(answer)) socket.destroy();
    });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
    const next = (i: number) => {
      const part = parts[i];
      if (part === undefined) return;
      socket.write(part, () => setImmediate(() => next(i + 1)));
    };
    socket.once("connect", () => next(0));
  });
}

/** The server's first HTTP/2 frame: a 9-byte header whose type byte (index 3) is SETTINGS (0x4). */
const isH2Settings = (b: Buffer) => b.length >= 9 && b[3] === 0x04;
/** A complete HTTP/1.1 response whose body is "h1". */
const isH1Answer = (b: Buffer) => /^HTTP\/1\.1 200[\s\S]*h1$/.test(b.toString("latin1"));

test("HTTP/1.1 goes to the HTTP/1.1 server", async () => {
  const body = await new Promise<string>((resolve, reject) => {
    request({ port, host: "127.0.0.1", path: "/", agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
  expect(body).toBe("h1");
});

test("h2c with prior knowledge goes to the HTTP/2 server", async () => {
  const session = connectHttp2(`http://127.0.0.1:${port}`);
  const body = await new Promise<string>((resolve, reject) => {
    const req = session.request({ ":path": "/" });
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => resolve(text));
    req.on("error", reject);
    req.end();
  });
  session.close();
  expect(body).toBe("h2");
});

test.each<[string, (string | Buffer)[], (answer: Buffer) => boolean]>([
  // A method that shares the preface's first letter is HTTP/1.1 once the second byte arrives.
  [
    "HTTP/1.1 split after one byte that matches the preface",
    ["P", "UT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"],
    isH1Answer,
  ],
  // A preface split over segments is waited for, not taken for HTTP/1.1.
  [
    "the HTTP/2 preface in three segments",
    [H2_PREFACE.subarray(0, 3), H2_PREFACE.subarray(3, 16), H2_PREFACE.subarray(16)],
    isH2Settings,
  ],
])("%s", async (_what, parts, expected) => {
  const answer = await raw(parts, expected);
  expect(expected(answer)).toBe(true);
});

test("a connection that never speaks is dropped after the sniff timeout", async () => {
  const closed = await new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("close", () => resolve(true));
    socket.on("error", () => undefined);
  });
  expect(closed).toBe(true);
});
