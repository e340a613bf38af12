/**
 * E2B's `network` options through the official `e2b` SDK, enforced for real: the local cluster runs
 * kube-router's NetworkPolicy controller (e2e/cluster/lib/network-policy.sh), the operator writes
 * each sandbox's NetworkPolicy, and `curl` inside the sandboxes shows what they reach. Traffic only
 * goes to addresses on this machine: an HTTP server of this test on every host address (the node's
 * bridge address, which the API server listens on too) and on two addresses the test binds to
 * `lo`: a link-local one (never the real metadata address) and a documentation one standing for
 * the internet; the test routes both into one sandbox through the node. The sandboxes' own HTTP servers stand for "another
 * sandbox". Ports that need the traffic access token are fetched through the gateway.
 */
import { Sandbox } from "e2b";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import {
  clusterCommand,
  ensureNode,
  kubeConfig,
  waitFor,
} from "../cluster/test-support/cluster.js";
import { installGatewayRelease, useSdkEnv, type GatewayRelease } from "./release.js";

/** A link-local address for this test only (the metadata range; never 169.254.169.254). */
const LINK_LOCAL = "169.254.77.1";
/** A public (not private) address for this test only, from TEST-NET-2 (RFC 5737), bound to `lo`. */
const PUBLIC = "198.51.100.77";
/** How long a rule change may take to reach the packets (issue 14: within 2 s). */
const UPDATE_LIMIT_MS = 2000;

let gw: GatewayRelease;
let restoreEnv: () => void;
let server: Server;
let port = 0;
let nodeIp = "";
let apiPort = 0;
const bound: string[] = [];
const sandboxes: Sandbox[] = [];

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/**
 * The HTTP status this machine gets from `url` ("000": no answer within 5 s). Asynchronous: the
 * test's own server answers from this process.
 */
async function hostStatus(url: string): Promise<string> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    return String(r.status);
  } catch {
    return "000";
  }
}

/** Creates a sandbox that this file kills at the end. */
async function create(opts: Parameters<typeof Sandbox.create>[1] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create("base", { timeoutMs: 300_000, ...opts });
  sandboxes.push(sbx);
  return sbx;
}

/** The HTTP status `curl` inside the sandbox gets from `url` ("000": no connection within 2 s). */
async function statusFrom(sbx: Sandbox, url: string, seconds = 2): Promise<string> {
  const r = await sbx.commands.run(
    `curl -sk -m ${seconds} -o /dev/null -w '%{http_code}' '${url}' || true`,
  );
  return r.stdout.trim();
}

/** The sandbox's pod address, as the sandbox itself sees it. */
async function addressOf(sbx: Sandbox): Promise<string> {
  const r = await sbx.commands.run("hostname -I");
  const ip = r.stdout.trim().split(/\s+/)[0] ?? "";
  expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  return ip;
}

/** Starts `python3 -m http.server` in the sandbox on `p` and waits until it answers there. */
async function serve(sbx: Sandbox, p: number): Promise<void> {
  await sbx.commands.run(`python3 -m http.server ${p} --bind 0.0.0.0`, { background: true });
  await waitFor(`http.server on ${p}`, async () =>
    (await statusFrom(sbx, `http://127.0.0.1:${p}/`)) === "200" ? true : undefined,
  );
}

/**
 * Probes `url` from inside the sandbox every ~100 ms (each try at most 0.3 s), writing
 * `<ms since epoch> <status>` lines to `file`; the sandbox shares this machine's clock.
 */
async function startProbe(sbx: Sandbox, url: string, file: string): Promise<void> {
  const loop = `while :; do c=$(curl -s -m 0.3 -o /dev/null -w '%{http_code}' '${url}'); echo "$(date +%s%3N) $c" >> ${file}; sleep 0.1; done`;
  await sbx.commands.run(loop, { background: true });
}

/** The time of the first probe line after `since` whose status is `want`, waiting up to 10 s. */
async function firstProbe(sbx: Sandbox, file: string, since: number, want: string) {
  return waitFor(
    `a probe answering ${want}`,
    async () => {
      const text = (await sbx.commands.run(`cat ${file}`)).stdout;
      for (const line of text.trim().split("\n")) {
        const [t, code] = line.split(" ");
        if (Number(t) > since && code === want) return Number(t);
      }
      return undefined;
    },
    10_000,
  );
}

/** The network namespace (`ip netns` name) holding a pod address. */
function netnsOf(ip: string): string {
  for (const line of run("ip", ["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0];
    if (!name?.startsWith("cni-")) continue;
    const addrs = run("ip", ["-n", name, "-4", "-o", "addr", "show"]);
    if (addrs.includes(` ${ip}/`)) return name;
  }
  throw new Error(`no network namespace holds ${ip}`);
}

/** The team's Sandboxes, to prove a refused request created nothing. */
async function sandboxCount(): Promise<number> {
  const api = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    group: "soulbox.dev",
    version: "v1alpha1",
    namespace: gw.namespace,
    plural: "sandboxes",
  })) as { items: unknown[] };
  return list.items.length;
}

beforeAll(async () => {
  await ensureNode();
  const status = clusterCommand(["status"]).stdout;
  const m = /apiserver https:\/\/(\d+\.\d+\.\d+\.\d+):(\d+)/.exec(status);
  if (!m) throw new Error(`cluster status names no API server address:\n${status}`);
  nodeIp = m[1]!;
  apiPort = Number(m[2]);
  server = createServer((_req, res) => res.end("hello from the node"));
  await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
  port = (server.address() as AddressInfo).port;
  for (const a of [LINK_LOCAL, PUBLIC]) {
    run("ip", ["addr", "add", `${a}/32`, "dev", "lo"]);
    bound.push(a);
  }
  gw = await installGatewayRelease(kubeConfig());
  restoreEnv = useSdkEnv(gw);
}, 300_000);

afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.kill().catch(() => undefined)));
  restoreEnv?.();
  await gw?.uninstall();
  for (const a of bound) run("ip", ["addr", "del", `${a}/32`, "dev", "lo"]);
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}, 180_000);

let other: Sandbox;
let otherIp = "";

test("by default a sandbox reaches neither the node (its API server, a host server) nor another sandbox", async () => {
  const [sbx, peer] = await Promise.all([create(), create()]);
  other = peer;
  await serve(other, 8000);
  otherIp = await addressOf(other);
  // Controls: from the host all three answer, so a refusal below is the policy's.
  expect(await hostStatus(`http://${otherIp}:8000/`)).toBe("200");
  expect(await hostStatus(`http://${nodeIp}:${port}/`)).toBe("200");

  expect(await statusFrom(sbx, `https://${nodeIp}:${apiPort}/version`)).toBe("000");
  expect(await statusFrom(sbx, `http://${nodeIp}:${port}/`)).toBe("000");
  expect(await statusFrom(sbx, `http://${otherIp}:8000/`)).toBe("000");
}, 240_000);

test("allowOut opens exactly that address, denyOut closes one, updates apply within 2 s, link-local never opens", async () => {
  const sbx = await create({ network: { allowOut: [nodeIp] } });
  expect(await statusFrom(sbx, `http://${nodeIp}:${port}/`)).toBe("200");
  expect(await statusFrom(sbx, `http://${otherIp}:8000/`)).toBe("000");

  // Two addresses of this machine routed into the sandbox through the node, as the internet and
  // the metadata range are on a cloud host; both answer the host.
  const ns = netnsOf(await addressOf(sbx));
  for (const a of [PUBLIC, LINK_LOCAL]) {
    run("ip", ["-n", ns, "route", "replace", `${a}/32`, "via", nodeIp]);
    expect(await hostStatus(`http://${a}:${port}/`)).toBe("200");
  }
  // allowOut alone keeps the default reach: a public address answers.
  expect(await statusFrom(sbx, `http://${PUBLIC}:${port}/`)).toBe("200");

  const file = "/tmp/probe.log";
  await startProbe(sbx, `http://${PUBLIC}:${port}/`, file);
  await firstProbe(sbx, file, 0, "200");
  const t0 = Date.now();
  await sbx.updateNetwork({ denyOut: [PUBLIC] });
  const closedAfter = (await firstProbe(sbx, file, t0, "000")) - t0;
  const t1 = Date.now();
  await sbx.updateNetwork({ allowOut: [PUBLIC, nodeIp], denyOut: ["0.0.0.0/0"] });
  const openedAfter = (await firstProbe(sbx, file, t1, "200")) - t1;
  console.log(
    `[network] an update closed the address after ${closedAfter} ms, reopened it after ${openedAfter} ms`,
  );
  expect(closedAfter).toBeLessThan(UPDATE_LIMIT_MS);
  expect(openedAfter).toBeLessThan(UPDATE_LIMIT_MS);
  // Allowed wins over denied (0.0.0.0/0): both listed addresses answer, nothing else private.
  expect(await statusFrom(sbx, `http://${nodeIp}:${port}/`)).toBe("200");
  expect(await statusFrom(sbx, `http://${otherIp}:8000/`)).toBe("000");

  // All of IPv4 and a range around link-local allowed, the node no longer (so the new rules show
  // when they are in force): the link-local address never opens.
  await sbx.updateNetwork({ allowOut: ["0.0.0.0/0", "169.254.0.0/15"] });
  await waitFor("the wider rules in force (the node closed)", async () =>
    (await statusFrom(sbx, `http://${nodeIp}:${port}/`, 1)) === "000" ? true : undefined,
  );
  expect(await statusFrom(sbx, `http://${PUBLIC}:${port}/`)).toBe("200");
  expect(await statusFrom(sbx, `http://${LINK_LOCAL}:${port}/`)).toBe("000");
}, 240_000);

test("allowPublicTraffic false: a user port answers only with the traffic access token (envd still works); maskRequestHost is the Host it sees", async () => {
  const sbx = await create({
    network: { allowPublicTraffic: false, maskRequestHost: "masked.example:${PORT}" },
  });
  expect(sbx.trafficAccessToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  await serve(sbx, 8000);
  const url = `https://${sbx.getHost(8000)}/`;

  const missing = await fetch(url);
  expect(missing.status).toBe(403);
  expect(await missing.json()).toEqual({
    sandboxId: sbx.sandboxId,
    code: 403,
    message:
      "Sandbox is secured with traffic access token. Token header 'e2b-traffic-access-token' is missing",
  });
  const wrong = await fetch(url, { headers: { "e2b-traffic-access-token": "not-the-token" } });
  expect(wrong.status).toBe(403);
  expect(((await wrong.json()) as { message: string }).message).toMatch(/is invalid/);
  const right = await fetch(url, {
    headers: { "e2b-traffic-access-token": sbx.trafficAccessToken ?? "" },
  });
  expect(right.status).toBe(200);
  await right.text();

  // maskRequestHost: the sandbox's server sees the mask as the Host, the port filled in.
  const echo = [
    "import http.server as h",
    "class H(h.BaseHTTPRequestHandler):",
    "  def do_GET(s):",
    "    s.send_response(200); s.end_headers(); s.wfile.write(s.headers['Host'].encode())",
    "h.HTTPServer(('0.0.0.0', 8001), H).serve_forever()",
  ].join("\n");
  await sbx.files.write("/tmp/echo-host.py", echo);
  await sbx.commands.run("python3 /tmp/echo-host.py", { background: true });
  await waitFor("the Host echo server", async () =>
    (await statusFrom(sbx, "http://127.0.0.1:8001/")) === "200" ? true : undefined,
  );
  const masked = await fetch(`https://${sbx.getHost(8001)}/`, {
    headers: { "e2b-traffic-access-token": sbx.trafficAccessToken ?? "" },
  });
  expect(await masked.text()).toBe("masked.example:8001");

  // A public sandbox's port needs no token (the other sandbox serves 8000 too).
  const open = await fetch(`https://${other.getHost(8000)}/`);
  expect(open.status).toBe(200);
  await open.text();

  // getInfo shows the network as asked for.
  const info = await Sandbox.getInfo(sbx.sandboxId);
  expect(info.network?.allowPublicTraffic).toBe(false);
  // Connecting again hands out the same token.
  const again = await Sandbox.connect(sbx.sandboxId);
  expect(again.trafficAccessToken).toBe(sbx.trafficAccessToken);
}, 240_000);

test.each<[string, Parameters<typeof Sandbox.create>[1], RegExp]>([
  [
    "a domain name in allowOut",
    { network: { allowOut: ["example.com"], denyOut: ["0.0.0.0/0"] } },
    /allowOut entry "example.com" is a domain name/,
  ],
  ["a bad CIDR", { network: { allowOut: ["10.0.0.0/33"] } }, /"10.0.0.0\/33" is neither a CIDR/],
  [
    "a link-local address",
    { network: { allowOut: [LINK_LOCAL] } },
    /"169.254.77.1" is a link-local or cloud metadata address, which a sandbox can never reach/,
  ],
  ["a domain name in denyOut", { network: { denyOut: ["example.com"] } }, /deny rules take CIDRs/],
  ["a bad host mask", { network: { maskRequestHost: "a b" } }, /mask request host is not valid/],
])("create with %s is a 400 and creates nothing", async (_name, opts, message) => {
  const before = await sandboxCount();
  await expect(Sandbox.create("base", opts)).rejects.toThrow(message);
  expect(await sandboxCount()).toBe(before);
});

test("a bad network update is a 400 and changes nothing", async () => {
  const sbx = other;
  await expect(sbx.updateNetwork({ allowOut: ["example.com"] })).rejects.toThrow(/domain name/);
  await expect(sbx.updateNetwork({ denyOut: ["300.1.1.1"] })).rejects.toThrow(/neither a CIDR/);
  const info = await Sandbox.getInfo(sbx.sandboxId);
  expect(info.sandboxId).toBe(sbx.sandboxId);
  const api = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const s = (await api.getNamespacedCustomObject({
    group: "soulbox.dev",
    version: "v1alpha1",
    namespace: gw.namespace,
    plural: "sandboxes",
    name: sbx.sandboxId,
  })) as { spec: { network?: unknown } };
  expect(s.spec.network).toBeUndefined();
});
