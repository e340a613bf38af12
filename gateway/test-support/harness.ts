/**
 * A front door on free ports (plain and TLS) in front of a real envd process, with the test index
 * holding one Ready sandbox whose pod is that envd; plus clients that reach Host-routed names
 * without DNS (they resolve every name to 127.0.0.1 and trust the test CA).
 */
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import express from "express";
import { Registry } from "prom-client";
import type { Sandbox } from "../../api/gen/crd-types.js";
import { createLogger } from "../../lib/log.js";
import { startFrontDoor, type FrontDoor } from "../src/proxy/front-door.js";
import { makeWildcardCerts, type TestCerts } from "../../lib/test-support/certs.js";
import { startPodEnvd, type PodEnvd } from "./pod-envd.js";
import { createTestIndex, sandboxObject, type TestIndex } from "./sandboxes.js";

/** The domain the harness's front door serves sandboxes under. */
export const DOMAIN = "soulbox.test";

/** A running front door and what stands behind it. */
export interface Harness {
  door: FrontDoor;
  index: TestIndex;
  /** The sandbox's "pod": envd on its own loopback address, port 49983. */
  envd: PodEnvd;
  certs: TestCerts;
  registry: Registry;
  /** envd's access token. */
  token: string;
  /** The id of the Ready sandbox whose pod is `envd`. */
  id: string;
  /** `http://127.0.0.1:<plain port>`. */
  httpUrl: string;
  /** What the API handler was asked: method, URL, protocol version, X-Forwarded-* headers. */
  apiCalls: { method: string; url: string; httpVersion: string; headers: IncomingHttpHeaders }[];
  /** Log lines the front door wrote. */
  logs: string[];
  /** Replaces the resume callback (default: refuses). */
  onResume: (s: Sandbox) => Promise<Sandbox>;
  /** What the front door's clock says (tests move it with `clockOffsetMs`). */
  clockOffsetMs: number;
  stop(): Promise<void>;
}

/** A random sandbox id of the gateway's form (20 of [a-z0-9]). */
export function newSandboxId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(20)].map((b) => alphabet[b % alphabet.length]).join("");
}

/** Starts envd and a front door in front of it. */
export async function startHarness(): Promise<Harness> {
  const token = randomBytes(16).toString("hex");
  const certs = makeWildcardCerts(DOMAIN);
  const envd = await startPodEnvd(token);
  const index = createTestIndex();
  const id = newSandboxId();
  index.set(sandboxObject(id, { podIP: envd.podIP }));
  const registry = new Registry();
  const logs: string[] = [];
  const apiCalls: Harness["apiCalls"] = [];
  const api = express();
  api.use((req, res) => {
    apiCalls.push({
      method: req.method,
      url: req.originalUrl,
      httpVersion: req.httpVersion,
      headers: req.headers,
    });
    res.status(200).json({ api: true, url: req.originalUrl });
  });
  const h: Harness = {
    index,
    envd,
    certs,
    registry,
    token,
    id,
    apiCalls,
    logs,
    onResume: () => Promise.reject(new Error("no resume in this test")),
    clockOffsetMs: 0,
    door: undefined as unknown as FrontDoor, // set just below; the callbacks need `h` first
    httpUrl: "",
    async stop() {
      await h.door.close();
      await envd.stop();
    },
  };
  h.door = await startFrontDoor({
    host: "127.0.0.1",
    httpPort: 0,
    httpsPort: 0,
    tls: { cert: certs.cert, key: certs.key },
    domain: DOMAIN,
    index,
    apiHandler: api,
    resume: (s) => h.onResume(s),
    log: createLogger("debug", {}, (line) => void logs.push(line)),
    registry,
    now: () => new Date(Date.now() + h.clockOffsetMs),
    closeGraceMs: 2000,
  });
  h.httpUrl = `http://127.0.0.1:${h.door.http.port}`;
  return h;
}

/** Resolves every name to 127.0.0.1 (both callback shapes Node uses). */
export const lookupLocal: LookupFunction = (_host, options, callback) => {
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

/** A response read whole (test payloads are small unless a test streams on purpose). */
export interface ReadResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Reads a response to its end. */
export async function readAll(res: IncomingMessage): Promise<ReadResponse> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

/**
 * An HTTPS request to `https://{name}:{tls port}{path}` as a client with DNS for `*.{domain}`
 * would make it: SNI and Host are the name, the certificate is checked against the test CA.
 */
export function tlsRequest(
  h: Harness,
  name: string,
  path: string,
  opts: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<ReadResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: name,
        port: h.door.https?.port,
        path,
        method: opts.method ?? "GET",
        headers: opts.headers,
        ca: h.certs.ca,
        lookup: lookupLocal,
        agent: false,
      },
      (res) => void readAll(res).then(resolve, reject),
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** A multipart/form-data body with one file part, as envd's `POST /files` takes it. */
export function multipartFile(content: Buffer | string): { body: Buffer; contentType: string } {
  const boundary = `----soulbox${randomBytes(8).toString("hex")}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="f"\r\n` +
        "content-type: application/octet-stream\r\n\r\n",
    ),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
