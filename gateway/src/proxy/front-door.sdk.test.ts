import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
} from "@connectrpc/connect-node";
import { Sandbox } from "e2b";
import { Process } from "../../../api/gen/envd/process/process_pb.js";
import { ENVD_VERSION } from "../sandboxes/sandbox-state.js";
import { makeWildcardCerts } from "../../../lib/test-support/certs.js";
import {
  DOMAIN,
  multipartFile,
  startHarness,
  tlsRequest,
  type Harness,
} from "../../test-support/harness.js";

// The official SDK and plain clients drive a real envd through the front door: header routing over
// HTTP/1.1 and h2c, Host routing over TLS (HTTP/1.1 and HTTP/2 by ALPN).

type SandboxCtor = new (opts: Record<string, unknown>) => Sandbox;

/** The SDK's Sandbox as `Sandbox.connect` builds it; its constructor is internal, hence the cast. */
function sdkSandbox(h: Harness, via: { sandboxUrl: string } | { domain: string }): Sandbox {
  return new (Sandbox as unknown as SandboxCtor)({
    sandboxId: h.id,
    envdVersion: ENVD_VERSION,
    envdAccessToken: h.token,
    ...via,
  });
}

let h: Harness;
const sessions: Http2SessionManager[] = [];
const rawSessions: ClientHttp2Session[] = [];
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const s of sessions) s.abort();
  for (const s of rawSessions) s.destroy();
  await h?.stop();
});

const routeTo =
  (id: string, token: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("E2b-Sandbox-Id", id);
    req.header.set("X-Access-Token", token);
    return next(req);
  };

async function runThrough(transport: Transport, script: string) {
  const client = createClient(Process, transport);
  let stdout = "";
  const kinds: string[] = [];
  let exitCode: number | undefined;
  for await (const res of client.start({ process: { cmd: "/bin/bash", args: ["-c", script] } })) {
    const ev = res.event?.event;
    if (!ev) continue;
    kinds.push(ev.case ?? "none");
    if (ev.case === "data" && ev.value.output.case === "stdout")
      stdout += new TextDecoder().decode(ev.value.output.value);
    if (ev.case === "end") exitCode = ev.value.exitCode;
  }
  return { stdout, kinds, exitCode };
}

describe("the e2b SDK through the front door", () => {
  test("commands stream output over HTTP/1.1 with E2b-Sandbox-Id routing", async () => {
    const sbx = sdkSandbox(h, { sandboxUrl: h.httpUrl });
    const chunks: string[] = [];
    const r = await sbx.commands.run("for i in 1 2 3; do echo $i; sleep 0.05; done", {
      onStdout: (d) => void chunks.push(d),
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "1\n2\n3\n" });
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(await sbx.isRunning()).toBe(true);
  });

  test("files written and read by the SDK over header routing", async () => {
    const sbx = sdkSandbox(h, { sandboxUrl: h.httpUrl });
    const path = `/tmp/proxy-sdk-${h.id}.txt`;
    await sbx.files.write(path, "through the front door\n");
    expect(await sbx.files.read(path)).toBe("through the front door\n");
    await sbx.files.remove(path);
  });

  test.each(["connect", "grpc"] as const)(
    "%s over h2c streams a command's output and its end (trailers) through",
    async (kind) => {
      const sm = new Http2SessionManager(h.httpUrl);
      sessions.push(sm);
      const interceptors = [routeTo(h.id, h.token)];
      const transport =
        kind === "grpc"
          ? createGrpcTransport({ baseUrl: h.httpUrl, sessionManager: sm, interceptors })
          : createConnectTransport({
              baseUrl: h.httpUrl,
              httpVersion: "2",
              sessionManager: sm,
              interceptors,
            });
      const r = await runThrough(transport, "echo one; sleep 0.05; echo two; exit 4");
      expect(r.stdout).toBe("one\ntwo\n");
      expect(r.kinds[0]).toBe("start");
      expect(r.kinds.at(-1)).toBe("end");
      expect(r.exitCode).toBe(4);
    },
  );

  test("a gRPC error status from envd reaches the client over h2c", async () => {
    const sm = new Http2SessionManager(h.httpUrl);
    sessions.push(sm);
    const transport = createGrpcTransport({
      baseUrl: h.httpUrl,
      sessionManager: sm,
      interceptors: [routeTo(h.id, "wrong-token")],
    });
    const err = await runThrough(transport, "true").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 16 }); // Unauthenticated, read from grpc-status
  });
});

describe("Host routing over TLS", () => {
  const envdHost = () => `49983-${h.id}.${DOMAIN}`;

  test("files upload and download at https://49983-<id>.<domain>/files", async () => {
    const path = `/tmp/proxy-tls-${h.id}.bin`;
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const { body, contentType } = multipartFile(content);
    const q = `/files?path=${encodeURIComponent(path)}`;
    const up = await tlsRequest(h, envdHost(), q, {
      method: "POST",
      headers: { "x-access-token": h.token, "content-type": contentType },
      body,
    });
    expect(up.status).toBe(200);
    const down = await tlsRequest(h, envdHost(), q, { headers: { "x-access-token": h.token } });
    expect(down.status).toBe(200);
    expect(down.body.equals(content)).toBe(true);
    // The port is optional in the name: `<id>.<domain>` means envd's port.
    const again = await tlsRequest(h, `${h.id}.${DOMAIN}`, q, {
      headers: { "x-access-token": h.token },
    });
    expect(again.body.equals(content)).toBe(true);
  });

  test("the SDK's signed upload and download URLs work without any routing header", async () => {
    const sbx = sdkSandbox(h, { domain: `${DOMAIN}:${h.door.https?.port}` });
    const path = `/tmp/proxy-signed-${h.id}.txt`;
    const uploadUrl = new URL(await sbx.uploadUrl(path));
    expect(uploadUrl.hostname).toBe(envdHost());
    const { body, contentType } = multipartFile("signed hello");
    const up = await tlsRequest(h, uploadUrl.hostname, uploadUrl.pathname + uploadUrl.search, {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    expect(up.status).toBe(200);
    const downloadUrl = new URL(await sbx.downloadUrl(path));
    const down = await tlsRequest(
      h,
      downloadUrl.hostname,
      downloadUrl.pathname + downloadUrl.search,
    );
    expect(down).toMatchObject({ status: 200 });
    expect(down.body.toString()).toBe("signed hello");
    // Without the signature envd refuses, so the URL really is what authorised the read.
    const unsigned = await tlsRequest(
      h,
      downloadUrl.hostname,
      `/files?path=${encodeURIComponent(path)}`,
    );
    expect(unsigned.status).toBe(401);
  });

  test("HTTP/2 by ALPN reaches envd by :authority", async () => {
    const s = h2connect(`https://${envdHost()}:${h.door.https?.port}`, {
      ca: h.certs.ca,
      lookup: (_n, o, cb) =>
        o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4),
    });
    rawSessions.push(s);
    const stream = s.request({ ":path": "/health" });
    const status = await new Promise<number>((resolve, reject) => {
      stream.once("response", (hd) => resolve(Number(hd[":status"])));
      stream.once("error", reject);
    });
    stream.resume();
    expect(s.alpnProtocol).toBe("h2");
    expect(status).toBe(204);
    s.close();
  });
});

describe("the REST API behind the same ports", () => {
  test("api.<domain> and unrouted requests reach the API handler, with HTTP/2 bridged", async () => {
    const before = h.apiCalls.length;
    const r1 = await fetch(`${h.httpUrl}/sandboxes?x=1`);
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ api: true, url: "/sandboxes?x=1" });
    const r2 = await tlsRequest(h, `api.${DOMAIN}`, "/v2/sandboxes");
    expect(JSON.parse(r2.body.toString())).toEqual({ api: true, url: "/v2/sandboxes" });

    const s = h2connect(h.httpUrl);
    rawSessions.push(s);
    const stream = s.request({ ":path": "/health-of-api", ":authority": `api.${DOMAIN}` });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    await new Promise((r) => stream.once("end", r));
    s.close();
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({
      api: true,
      url: "/health-of-api",
    });

    const calls = h.apiCalls.slice(before);
    expect(calls.map((c) => c.url)).toEqual(["/sandboxes?x=1", "/v2/sandboxes", "/health-of-api"]);
    // The bridged HTTP/2 call arrives as HTTP/1.1 with who asked, and how, in X-Forwarded-*.
    expect(calls[2]?.headers).toMatchObject({
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": `api.${DOMAIN}`,
    });
  });
});

describe("certificate renewal", () => {
  test("setTls serves a new certificate to new connections", async () => {
    const renewed = makeWildcardCerts(DOMAIN);
    const name = `49983-${h.id}.${DOMAIN}`;
    const trusting = (ca: string) =>
      tlsRequest({ ...h, certs: { ...h.certs, ca } }, name, "/health");
    expect((await trusting(h.certs.ca)).status).toBe(204);
    h.door.setTls({ cert: renewed.cert, key: renewed.key });
    try {
      await expect(trusting(h.certs.ca)).rejects.toThrow(/certificate/);
      expect((await trusting(renewed.ca)).status).toBe(204);
    } finally {
      h.door.setTls({ cert: h.certs.cert, key: h.certs.key });
    }
    expect(() => h.door.setTls({ cert: "not a certificate", key: "nor a key" })).toThrow();
    expect((await trusting(h.certs.ca)).status).toBe(204);
  });
});
