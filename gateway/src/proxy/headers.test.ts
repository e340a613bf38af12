import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import {
  requestHeadersUpstream,
  responseHeadersDownstream,
  trailersDownstream,
  type ForwardedContext,
} from "./headers.js";

const CTX: ForwardedContext = {
  clientIp: "10.1.2.3",
  proto: "https",
  host: "49983-x.soulbox.test",
};
const XF = {
  "x-forwarded-for": "10.1.2.3",
  "x-forwarded-proto": "https",
  "x-forwarded-host": "49983-x.soulbox.test",
};

describe("requestHeadersUpstream", () => {
  test.each<[string, IncomingHttpHeaders, OutgoingHttpHeaders, { upgrade?: boolean }?]>([
    [
      "end-to-end headers pass",
      { "content-type": "a/b", "x-access-token": "t" },
      { "content-type": "a/b", "x-access-token": "t", ...XF },
    ],
    [
      "hop-by-hop headers go",
      {
        connection: "keep-alive",
        "keep-alive": "timeout=5",
        "proxy-connection": "x",
        "proxy-authorization": "Basic x",
        "transfer-encoding": "chunked",
        upgrade: "websocket",
        "http2-settings": "AAA",
        accept: "*/*",
      },
      { accept: "*/*", ...XF },
    ],
    [
      "headers named by Connection go",
      { connection: "close, X-Secret", "x-secret": "s", a: "1" },
      { a: "1", ...XF },
    ],
    [
      "routing headers go",
      { "e2b-sandbox-id": "x", "e2b-sandbox-port": "1", a: "1" },
      { a: "1", ...XF },
    ],
    [
      "host, pseudo-headers and expect go",
      { host: "h", ":authority": "h", ":path": "/", expect: "100-continue" },
      { ...XF },
    ],
    ["te: trailers stays (gRPC)", { te: "trailers" }, { te: "trailers", ...XF }],
    ["other te values go", { te: "gzip, trailers" }, { ...XF }],
    [
      "X-Forwarded-For is appended to",
      { "x-forwarded-for": "1.1.1.1" },
      { ...XF, "x-forwarded-for": "1.1.1.1, 10.1.2.3" },
    ],
    [
      "X-Forwarded-Proto/Host from the client are replaced",
      { "x-forwarded-proto": "gopher", "x-forwarded-host": "evil" },
      { ...XF },
    ],
    [
      "set-cookie style arrays survive",
      { "x-multi": ["a", "b"] } as IncomingHttpHeaders,
      { "x-multi": ["a", "b"], ...XF },
    ],
    [
      "upgrade keeps Upgrade and Connection: upgrade",
      { connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "k" },
      { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "k", ...XF },
      { upgrade: true },
    ],
    // A rest parameter: jest takes a fourth named parameter for a `done` callback.
  ])("%s", (...row) => {
    const [, incoming, want, opts] = row;
    expect(requestHeadersUpstream(incoming, CTX, opts)).toEqual(want);
  });

  test("an IPv4-mapped client address is written as IPv4; an unknown one is left out", () => {
    expect(
      requestHeadersUpstream({}, { ...CTX, clientIp: "::ffff:10.9.9.9" })["x-forwarded-for"],
    ).toBe("10.9.9.9");
    expect(requestHeadersUpstream({}, { ...CTX, clientIp: undefined })).not.toHaveProperty(
      "x-forwarded-for",
    );
  });
});

describe("responseHeadersDownstream and trailersDownstream", () => {
  test.each<[string, IncomingHttpHeaders, OutgoingHttpHeaders]>([
    [
      "end-to-end headers pass",
      { "content-type": "a/b", "content-length": "3" },
      { "content-type": "a/b", "content-length": "3" },
    ],
    [
      "hop-by-hop ones go (HTTP/2 refuses them)",
      {
        connection: "keep-alive",
        "keep-alive": "timeout=5",
        "transfer-encoding": "chunked",
        upgrade: "h2c",
        a: "1",
      },
      { a: "1" },
    ],
    [
      "pseudo-headers go",
      { ":status": "200", "grpc-encoding": "identity" } as IncomingHttpHeaders,
      { "grpc-encoding": "identity" },
    ],
    ["Trailer announcements stay", { trailer: "grpc-status" }, { trailer: "grpc-status" }],
    [
      "set-cookie arrays survive",
      { "set-cookie": ["a=1", "b=2"] },
      { "set-cookie": ["a=1", "b=2"] },
    ],
  ])("%s", (_name, upstream, want) => {
    expect(responseHeadersDownstream(upstream)).toEqual(want);
  });

  test("trailers keep gRPC's status and drop what a trailer section may not hold", () => {
    expect(
      trailersDownstream({
        "grpc-status": "0",
        "grpc-message": "",
        ":status": "200",
        connection: "x",
      }),
    ).toEqual({ "grpc-status": "0", "grpc-message": "" });
  });
});
