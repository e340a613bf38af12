import type { SandboxNetwork } from "../../../api/gen/crd-types.js";
import { ApiError } from "./errors.js";
import {
  e2bNetworkOf,
  maskedHost,
  networkForCreate,
  networkForUpdate,
  tokenDigest,
  trafficAccessToken,
} from "./network.js";

const refusal = (f: () => unknown): { status: number; message: string } | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, message: err.message };
  }
};

describe("networkForCreate", () => {
  test.each<[string, unknown, unknown, SandboxNetwork | undefined]>([
    ["nothing asked: the defaults", undefined, undefined, undefined],
    ["internet on, empty network: the defaults", true, {}, undefined],
    ["internet off", false, undefined, { denyEgress: ["0.0.0.0/0", "::/0"] }],
    [
      "E2B's allow-list form",
      undefined,
      { allowOut: ["1.1.1.1", "10.104.0.1/32"], denyOut: ["0.0.0.0/0"] },
      { allowEgress: ["1.1.1.1", "10.104.0.1/32"], denyEgress: ["0.0.0.0/0"] },
    ],
    [
      "allowOut alone keeps the default reach (denyEgress present, empty)",
      undefined,
      { allowOut: ["10.104.0.1"] },
      { allowEgress: ["10.104.0.1"], denyEgress: [] },
    ],
    [
      "denyOut alone",
      undefined,
      { denyOut: ["8.8.8.8", "203.0.113.0/24"] },
      { denyEgress: ["8.8.8.8", "203.0.113.0/24"] },
    ],
    [
      "internet off joins denyOut, without duplicates",
      false,
      { denyOut: ["0.0.0.0/0"], allowOut: ["1.1.1.1", "1.1.1.1"] },
      { allowEgress: ["1.1.1.1"], denyEgress: ["0.0.0.0/0", "::/0"] },
    ],
    [
      "a range that only overlaps link-local is allowed (the operator cuts link-local out)",
      undefined,
      { allowOut: ["169.254.0.0/15", "0.0.0.0/0"] },
      { allowEgress: ["169.254.0.0/15", "0.0.0.0/0"], denyEgress: [] },
    ],
    ["private ports", undefined, { allowPublicTraffic: false }, { allowPublicTraffic: false }],
    ["public ports are the default", undefined, { allowPublicTraffic: true }, undefined],
    [
      "a host mask with E2B's port placeholder",
      undefined,
      { maskRequestHost: "localhost:${PORT}" },
      { maskRequestHost: "localhost:${PORT}" },
    ],
    ["nulls are absent", null, { allowOut: null, denyOut: null, maskRequestHost: null }, undefined],
  ])("%s", (_name, internet, network, expected) => {
    expect(networkForCreate(internet, network)).toEqual(expected);
  });

  test.each<[string, unknown, unknown, RegExp]>([
    ["a network that is no object", undefined, ["1.1.1.1"], /network must be an object/],
    ["internet access that is no boolean", "no", undefined, /allow_internet_access must be true/],
    ["allowOut that is no list", undefined, { allowOut: "1.1.1.1" }, /allowOut must be a list/],
    ["an empty entry", undefined, { denyOut: [""] }, /denyOut must be a list of non-empty/],
    [
      "a domain name in allowOut",
      undefined,
      { allowOut: ["api.example.com"], denyOut: ["0.0.0.0/0"] },
      /allowOut entry "api.example.com" is a domain name: .*NetworkPolicy.*refused/,
    ],
    [
      "a wildcard domain in allowOut",
      undefined,
      { allowOut: ["*.example.com"] },
      /"\*\.example\.com" is a domain name/,
    ],
    [
      "a bad CIDR in allowOut",
      undefined,
      { allowOut: ["10.0.0.0/33"] },
      /allowOut entry "10.0.0.0\/33" is neither a CIDR/,
    ],
    [
      "the metadata address",
      undefined,
      { allowOut: ["169.254.169.254"] },
      /"169.254.169.254" is a link-local or cloud metadata address, which a sandbox can never reach/,
    ],
    [
      "a link-local address",
      undefined,
      { allowOut: ["169.254.77.1/32"] },
      /"169.254.77.1\/32" is a link-local/,
    ],
    ["link-local IPv6", undefined, { allowOut: ["fe80::1"] }, /"fe80::1" is a link-local/],
    [
      "the IPv6 metadata address",
      undefined,
      { allowOut: ["fd00:ec2::254"] },
      /"fd00:ec2::254" is a link-local or cloud metadata/,
    ],
    [
      "a domain name in denyOut",
      undefined,
      { denyOut: ["example.com"] },
      /denyOut entry "example.com" is a domain name: deny rules take CIDRs and IP addresses only/,
    ],
    ["garbage in denyOut", undefined, { denyOut: ["a b"] }, /denyOut entry "a b" is neither/],
    [
      "an address out of range",
      undefined,
      { denyOut: ["300.1.1.1"] },
      /denyOut entry "300.1.1.1" is neither a CIDR/,
    ],
    [
      "an address out of range in allowOut",
      undefined,
      { allowOut: ["10.1.1.256"] },
      /allowOut entry "10.1.1.256" is neither a CIDR/,
    ],
    [
      "too many entries",
      undefined,
      { allowOut: Array.from({ length: 65 }, (_, i) => `203.0.113.${i}`) },
      /allowOut takes at most 64 entries/,
    ],
    ["allowPublicTraffic not a boolean", undefined, { allowPublicTraffic: "no" }, /true or false/],
    [
      "a mask that is no host",
      undefined,
      { maskRequestHost: "http://x/" },
      /mask request host is not valid: http:\/\/x\//,
    ],
    ["a non-ASCII mask", undefined, { maskRequestHost: "exämple.com" }, /mask request host/],
    [
      "an egress proxy",
      undefined,
      { egressProxy: { address: "x" } },
      /egressProxy is not supported/,
    ],
    ["transform rules", undefined, { rules: {} }, /rules is not supported/],
  ])("refuses %s with 400", (_name, internet, network, message) => {
    const r = refusal(() => networkForCreate(internet, network));
    expect(r?.status).toBe(400);
    expect(r?.message).toMatch(message);
  });
});

describe("networkForUpdate", () => {
  const current: SandboxNetwork = {
    allowEgress: ["1.1.1.1"],
    denyEgress: ["0.0.0.0/0"],
    allowPublicTraffic: false,
    maskRequestHost: "localhost",
  };

  test.each<[string, unknown, SandboxNetwork | undefined, SandboxNetwork]>([
    [
      "an empty body clears the egress rules",
      {},
      current,
      { allowPublicTraffic: false, maskRequestHost: "localhost" },
    ],
    [
      "rules are replaced, not merged",
      { denyOut: ["10.104.0.1"] },
      current,
      { denyEgress: ["10.104.0.1"], allowPublicTraffic: false, maskRequestHost: "localhost" },
    ],
    [
      "allow_internet_access false closes everything but allowOut",
      { allow_internet_access: false, allowOut: ["10.104.0.1"] },
      undefined,
      { allowEgress: ["10.104.0.1"], denyEgress: ["0.0.0.0/0", "::/0"] },
    ],
    ["nothing before, nothing asked", {}, undefined, {}],
  ])("%s", (_name, body, before, expected) => {
    expect(networkForUpdate(body, before)).toEqual(expected);
  });

  test.each<[string, unknown, RegExp]>([
    ["a body that is no object", [], /must be a JSON object \(SandboxNetworkUpdateConfig\)/],
    ["a domain name", { allowOut: ["example.com"] }, /"example.com" is a domain name/],
    ["a link-local address", { allowOut: ["169.254.77.1"] }, /can never reach/],
    ["a bad flag", { allow_internet_access: 1 }, /allow_internet_access must be true or false/],
  ])("refuses %s with 400", (_name, body, message) => {
    const r = refusal(() => networkForUpdate(body, current));
    expect(r?.status).toBe(400);
    expect(r?.message).toMatch(message);
  });
});

test("the traffic token is stable per sandbox and envd token, and differs otherwise", () => {
  const a = trafficAccessToken("envd-token-1", "sbx1");
  expect(trafficAccessToken("envd-token-1", "sbx1")).toBe(a);
  expect(trafficAccessToken("envd-token-2", "sbx1")).not.toBe(a);
  expect(trafficAccessToken("envd-token-1", "sbx2")).not.toBe(a);
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(tokenDigest(a)).toMatch(/^[0-9a-f]{64}$/);
});

test.each([
  ["localhost:${PORT}", 3000, "localhost:3000"],
  ["${PORT}.internal", 8080, "8080.internal"],
  ["example.com", 80, "example.com"],
])("maskedHost(%s, %d) is %s", (mask, port, expected) => {
  expect(maskedHost(mask, port)).toBe(expected);
});

test.each([
  [undefined, {}],
  [
    { denyEgress: ["0.0.0.0/0", "::/0"] },
    { allowInternetAccess: false, network: { denyOut: ["0.0.0.0/0"], allowPublicTraffic: true } },
  ],
  [
    {
      allowEgress: ["10.104.0.1"],
      denyEgress: [],
      allowPublicTraffic: false,
      maskRequestHost: "x",
    },
    {
      network: {
        allowOut: ["10.104.0.1"],
        denyOut: [],
        allowPublicTraffic: false,
        maskRequestHost: "x",
      },
    },
  ],
])("SandboxDetail's view of %j", (spec, expected) => {
  expect(e2bNetworkOf(spec)).toEqual(expected);
});
