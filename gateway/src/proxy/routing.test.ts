import { routeRequest, type Route, type RoutingInput } from "./routing.js";

const D = "soulbox.test";
const ID = "abc123def456ghi789jk";

const input = (over: Partial<RoutingInput>): RoutingInput => ({
  host: undefined,
  sandboxIdHeader: undefined,
  sandboxPortHeader: undefined,
  ...over,
});
const sandbox = (port: number, via: "header" | "host", id = ID): Route => ({
  kind: "sandbox",
  sandboxId: id,
  port,
  via,
});

describe("routeRequest", () => {
  test.each<[string, Partial<RoutingInput>, Route | "invalid"]>([
    // headers
    ["id header, default port", { sandboxIdHeader: ID, host: "gw:8080" }, sandbox(49983, "header")],
    [
      "id and port headers",
      { sandboxIdHeader: ID, sandboxPortHeader: "3000" },
      sandbox(3000, "header"),
    ],
    [
      "headers win over a Host route",
      { sandboxIdHeader: ID, host: `8080-other.${D}` },
      sandbox(49983, "header"),
    ],
    [
      "header values are trimmed",
      { sandboxIdHeader: ` ${ID} `, sandboxPortHeader: " 80 " },
      sandbox(80, "header"),
    ],
    ["id header with a dash", { sandboxIdHeader: "abc-def" }, "invalid"],
    ["upper-case id header", { sandboxIdHeader: "ABC" }, "invalid"],
    ["empty id header", { sandboxIdHeader: "" }, "invalid"],
    ["id header sent twice", { sandboxIdHeader: [ID, ID] }, "invalid"],
    ["id header comma-joined by Node", { sandboxIdHeader: `${ID}, ${ID}` }, "invalid"],
    ["non-numeric port header", { sandboxIdHeader: ID, sandboxPortHeader: "http" }, "invalid"],
    ["port header 0", { sandboxIdHeader: ID, sandboxPortHeader: "0" }, "invalid"],
    ["port header 65536", { sandboxIdHeader: ID, sandboxPortHeader: "65536" }, "invalid"],
    ["negative port header", { sandboxIdHeader: ID, sandboxPortHeader: "-1" }, "invalid"],
    ["port header with a fraction", { sandboxIdHeader: ID, sandboxPortHeader: "80.5" }, "invalid"],
    ["empty port header", { sandboxIdHeader: ID, sandboxPortHeader: "" }, "invalid"],
    ["port header alone is the API's", { sandboxPortHeader: "3000", host: "gw" }, { kind: "api" }],
    // Host
    ["port-id host", { host: `3000-${ID}.${D}` }, sandbox(3000, "host")],
    [
      "port-id host with the listener port",
      { host: `49983-${ID}.${D}:8443` },
      sandbox(49983, "host"),
    ],
    ["id host without port", { host: `${ID}.${D}` }, sandbox(49983, "host")],
    [
      "host is case-insensitive",
      { host: `3000-${ID.toUpperCase()}.SoulBox.Test` },
      sandbox(3000, "host"),
    ],
    ["trailing dot", { host: `3000-${ID}.${D}.` }, sandbox(3000, "host")],
    ["highest port", { host: `65535-${ID}.${D}` }, sandbox(65535, "host")],
    ["port 0 in host", { host: `0-${ID}.${D}` }, "invalid"],
    ["port out of range in host", { host: `70000-${ID}.${D}` }, "invalid"],
    ["non-numeric port in host", { host: `web-${ID}.${D}` }, "invalid"],
    ["two dashes in host", { host: `3000-${ID}-x.${D}` }, "invalid"],
    ["underscore id in host", { host: `3000-a_b.${D}` }, "invalid"],
    ["empty id in host", { host: `3000-.${D}` }, "invalid"],
    ["leading dash in host", { host: `-${ID}.${D}` }, "invalid"],
    // the API
    ["api host", { host: `api.${D}` }, { kind: "api" }],
    ["api host with port", { host: `API.${D}:8080` }, { kind: "api" }],
    ["sandbox host (the SDK's header-routed URL)", { host: `sandbox.${D}` }, { kind: "api" }],
    ["the bare domain", { host: D }, { kind: "api" }],
    ["two labels under the domain", { host: `a.${ID}.${D}` }, { kind: "api" }],
    ["another domain", { host: `3000-${ID}.example.com` }, { kind: "api" }],
    ["domain as a mere suffix", { host: `3000-${ID}.notsoulbox.test` }, { kind: "api" }],
    ["an IP literal", { host: "127.0.0.1:8080" }, { kind: "api" }],
    ["an IPv6 literal", { host: "[::1]:8080" }, { kind: "api" }],
    ["no host, no headers", {}, { kind: "api" }],
  ])("%s", (_name, over, want) => {
    const got = routeRequest(input(over), D);
    if (want === "invalid") {
      expect(got.kind).toBe("invalid");
      if (got.kind === "invalid") expect(got.message).toMatch(/invalid/);
    } else expect(got).toEqual(want);
  });

  test("the domain may be given with a trailing dot or in capitals", () => {
    expect(routeRequest(input({ host: `1-${ID}.${D}` }), "SOULBOX.test.")).toEqual(
      sandbox(1, "host"),
    );
  });
});
