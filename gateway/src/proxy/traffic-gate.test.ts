import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sandbox, SandboxNetwork } from "../../../api/gen/crd-types.js";
import {
  TRAFFIC_TOKEN_DIGEST_ANNOTATION,
  tokenDigest,
  trafficAccessToken,
} from "../api/network.js";
import type { Dispatcher } from "./dispatch.js";
import { decideGate, withTrafficGate, type GateVerdict } from "./traffic-gate.js";

const DOMAIN = "soulbox.test";
const TOKEN = trafficAccessToken("envd-token", "sbx1");

const sandbox = (network?: SandboxNetwork, digest?: string): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: {
    name: "sbx1",
    namespace: "team-a",
    annotations: digest ? { [TRAFFIC_TOKEN_DIGEST_ANNOTATION]: digest } : {},
  },
  spec: { ...(network ? { network } : {}) },
});
const PRIVATE = sandbox({ allowPublicTraffic: false }, tokenDigest(TOKEN));
const MISSING =
  "Sandbox is secured with traffic access token. Token header 'e2b-traffic-access-token' is missing";
const INVALID =
  "Sandbox is secured with traffic access token. Provided token in header 'e2b-traffic-access-token' is invalid";

test.each<[string, string, Record<string, string>, Sandbox | undefined, GateVerdict]>([
  ["a public sandbox's port", "8080-sbx1.soulbox.test", {}, sandbox(), { kind: "pass" }],
  ["the API", "api.soulbox.test", {}, PRIVATE, { kind: "pass" }],
  ["envd's port of a private sandbox", "49983-sbx1.soulbox.test", {}, PRIVATE, { kind: "pass" }],
  [
    "an unknown sandbox (the dispatch answers)",
    "8080-zzz.soulbox.test",
    {},
    undefined,
    { kind: "pass" },
  ],
  [
    "no token",
    "8080-sbx1.soulbox.test",
    {},
    PRIVATE,
    { kind: "refuse", sandboxId: "sbx1", message: MISSING },
  ],
  [
    "an empty token",
    "8080-sbx1.soulbox.test",
    { "e2b-traffic-access-token": "" },
    PRIVATE,
    { kind: "refuse", sandboxId: "sbx1", message: MISSING },
  ],
  [
    "a wrong token",
    "8080-sbx1.soulbox.test",
    { "e2b-traffic-access-token": "nope" },
    PRIVATE,
    { kind: "refuse", sandboxId: "sbx1", message: INVALID },
  ],
  [
    "the token before the API wrote its digest",
    "8080-sbx1.soulbox.test",
    { "e2b-traffic-access-token": TOKEN },
    sandbox({ allowPublicTraffic: false }),
    { kind: "refuse", sandboxId: "sbx1", message: INVALID },
  ],
  [
    "the right token",
    "8080-sbx1.soulbox.test",
    { "e2b-traffic-access-token": TOKEN },
    PRIVATE,
    { kind: "pass" },
  ],
  [
    "header routing is checked too",
    "anything",
    { "e2b-sandbox-id": "sbx1", "e2b-sandbox-port": "3000" },
    PRIVATE,
    { kind: "refuse", sandboxId: "sbx1", message: MISSING },
  ],
  [
    "a Host mask with the port filled in",
    "3000-sbx1.soulbox.test",
    {},
    sandbox({ maskRequestHost: "localhost:${PORT}" }),
    { kind: "mask", sandboxId: "sbx1", port: 3000, host: "localhost:3000" },
  ],
  [
    "no mask on envd's port",
    "49983-sbx1.soulbox.test",
    {},
    sandbox({ maskRequestHost: "localhost" }),
    { kind: "pass" },
  ],
])("%s", (_name, host, headers, s, expected) => {
  expect(decideGate({ host, headers }, DOMAIN, (id) => (id === "sbx1" ? s : undefined))).toEqual(
    expected,
  );
});

describe("withTrafficGate", () => {
  const calls: IncomingMessage[] = [];
  const inner: Dispatcher = {
    http1: (req) => void calls.push(req),
    http2: () => undefined,
    upgrade: () => undefined,
    close: () => Promise.resolve(),
  };
  const gated = withTrafficGate(inner, {
    domain: DOMAIN,
    index: { get: (id) => (id === "sbx1" ? PRIVATE : undefined) },
  });
  const response = () => {
    const out = { status: 0, body: "" };
    const res = {
      writeHead: (status: number) => void (out.status = status),
      end: (body: string) => void (out.body = body),
    } as unknown as ServerResponse;
    return { res, out };
  };
  beforeEach(() => (calls.length = 0));

  test("a refused request gets E2B's 403 body and never reaches the dispatch", () => {
    const { res, out } = response();
    gated.http1({ headers: { host: "8080-sbx1.soulbox.test" } } as IncomingMessage, res);
    expect(calls).toHaveLength(0);
    expect(out.status).toBe(403);
    expect(JSON.parse(out.body)).toEqual({ sandboxId: "sbx1", message: MISSING, code: 403 });
  });

  test("a request with the token goes on unchanged", () => {
    const { res, out } = response();
    const headers = { host: "8080-sbx1.soulbox.test", "e2b-traffic-access-token": TOKEN };
    gated.http1({ headers: { ...headers } } as unknown as IncomingMessage, res);
    expect(calls.map((r) => r.headers)).toEqual([headers]);
    expect(out.status).toBe(0);
  });
});

test("a masked request is routed by headers and carries the mask as its Host", () => {
  const calls: IncomingMessage[] = [];
  const gated = withTrafficGate(
    {
      http1: (req) => void calls.push(req),
      http2: () => undefined,
      upgrade: () => undefined,
      close: () => Promise.resolve(),
    },
    { domain: DOMAIN, index: { get: () => sandbox({ maskRequestHost: "internal:${PORT}" }) } },
  );
  gated.http1(
    { headers: { host: "3000-sbx1.soulbox.test" } } as IncomingMessage,
    {} as ServerResponse,
  );
  expect(calls[0]?.headers).toEqual({
    host: "internal:3000",
    "e2b-sandbox-id": "sbx1",
    "e2b-sandbox-port": "3000",
  });
});
