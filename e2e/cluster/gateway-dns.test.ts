/**
 * The local gateway's TLS and DNS, from `e2e/cluster/cluster`: `cert` issues a certificate for
 * *.<domain> and <domain> that verifies against the cluster's gateway CA (node:tls and openssl),
 * for one label under the domain only; `dns add` makes the domain and every name under it
 * resolve to the IP on this machine (getent and Node's dns.lookup), `dns remove` undoes it, a
 * second cluster is refused while the first owns /etc/resolv.conf, bad input changes nothing,
 * and `down` gives /etc/resolv.conf back byte for byte.
 *
 * Each test uses state dirs of its own (no control plane: `dns add` makes the cluster's bridge
 * for dnsmasq to listen on, `down` removes it). /etc/resolv.conf is machine-wide, so the DNS
 * tests run one after another and always end with `down`. Needs root (as the node does).
 */
import { spawnSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, connect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER_CLI } from "./test-support/cluster.js";
import { holdDnsLock } from "./test-support/dns-lock.js";

const RESOLV_CONF = "/etc/resolv.conf";

/** Runs the cluster CLI against state dir `state`; never throws on a non-zero exit. */
function cluster(
  state: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(CLUSTER_CLI, args, {
    env: { ...process.env, SOULBOX_CLUSTER_DIR: state },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function clusterOk(state: string, args: string[]): string {
  const r = cluster(state, args);
  if (r.status !== 0)
    throw new Error(`cluster ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** What getent says `name` is (its first address), or undefined when it does not resolve. */
function getent(name: string): string | undefined {
  const r = spawnSync("getent", ["hosts", name], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split(/\s+/)[0] : undefined;
}

/** Every address Node's resolver (getaddrinfo) gives `name`; [] when it does not resolve. */
async function nodeLookup(name: string): Promise<string[]> {
  try {
    return (await lookup(name, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

let work: string;
const states: string[] = [];
/** A fresh state dir; every one is taken down after the test. */
function stateDir(): string {
  const dir = join(work, `state-${states.length}`);
  states.push(dir);
  return dir;
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "soulbox-gateway-dns-"));
});
afterEach(() => {
  for (const dir of states.splice(0)) cluster(dir, ["down"]);
  rmSync(work, { recursive: true, force: true });
});

describe("cluster cert", () => {
  test("issues *.<domain> and <domain> from the gateway CA; the key is private", async () => {
    const state = stateDir();
    const out = join(work, "tls");
    clusterOk(state, ["cert", "gw.test", out]);
    const ca = join(state, "pki", "gateway-ca.crt");
    expect(statSync(join(out, "tls.key")).mode & 0o777).toBe(0o600);
    expect(statSync(ca).mode & 0o777).toBe(0o644);
    const verify = spawnSync("openssl", ["verify", "-CAfile", ca, join(out, "tls.crt")], {
      encoding: "utf8",
    });
    expect(verify.stdout.trim()).toBe(`${join(out, "tls.crt")}: OK`);

    // A TLS client that trusts only the CA: one label under the domain and the domain itself
    // verify; a second label, another domain, or another cluster's CA do not.
    const server = createServer(
      { cert: readFileSync(join(out, "tls.crt")), key: readFileSync(join(out, "tls.key")) },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const handshake = (servername: string, caFile: string): Promise<string> =>
      new Promise((resolve) => {
        const socket: TLSSocket = connect({
          host: "127.0.0.1",
          port,
          servername,
          ca: readFileSync(caFile),
        });
        socket.once("secureConnect", () => {
          socket.destroy();
          resolve("ok");
        });
        socket.once("error", (err: NodeJS.ErrnoException) => {
          socket.destroy();
          resolve(err.code ?? err.message);
        });
      });
    const other = stateDir();
    clusterOk(other, ["cert", "gw.test", join(work, "other-tls")]);
    try {
      expect(
        await Promise.all([
          handshake("49983-abc123.gw.test", ca),
          handshake("api.gw.test", ca),
          handshake("gw.test", ca),
          handshake("a.b.gw.test", ca),
          handshake("api.other.test", ca),
          handshake("api.gw.test", join(other, "pki", "gateway-ca.crt")),
        ]),
      ).toEqual([
        "ok",
        "ok",
        "ok",
        "ERR_TLS_CERT_ALTNAME_INVALID",
        "ERR_TLS_CERT_ALTNAME_INVALID",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test.each([
    ["a capital letter", "Gw.test"],
    ["a single label", "localhost"],
    ["an underscore", "my_gw.test"],
    ["a leading dash", "-gw.test"],
    ["an empty label", "gw..test"],
    ["a wildcard", "*.gw.test"],
  ])("refuses a domain with %s and writes nothing", (_name, domain) => {
    const state = stateDir();
    const out = join(work, "tls");
    const r = cluster(state, ["cert", domain, out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not a domain name/);
    expect(() => statSync(out)).toThrow();
  });
});

describe("cluster dns", () => {
  // These tests own /etc/resolv.conf with clusters of their own: no other test file may use the
  // test run's cluster DNS meanwhile.
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdDnsLock("exclusive");
  }, 600_000);
  afterAll(async () => {
    await release?.();
  });

  test("add makes the domain and every name under it resolve here; remove undoes it; down restores resolv.conf", async () => {
    const before = readFileSync(RESOLV_CONF);
    const state = stateDir();
    const domain = `dns${Date.now().toString(36)}.test`;
    clusterOk(state, ["dns", "add", domain, "10.1.2.3"]);
    expect(readFileSync(RESOLV_CONF, "utf8")).toMatch(/^# soulbox-cluster-dns .*\nnameserver /);
    expect(getent(`49983-abc.${domain}`)).toBe("10.1.2.3");
    expect(getent(domain)).toBe("10.1.2.3");
    expect(await nodeLookup(`49983-x.${domain}`)).toEqual(["10.1.2.3"]);
    expect(await nodeLookup(`api.${domain}`)).toEqual(["10.1.2.3"]);

    // A second domain, and a new address for the first: both take effect at once.
    clusterOk(state, ["dns", "add", `other-${domain}`, "10.1.2.4"]);
    clusterOk(state, ["dns", "add", domain, "10.1.2.5"]);
    expect([getent(`a.${domain}`), getent(`b.other-${domain}`)]).toEqual(["10.1.2.5", "10.1.2.4"]);

    clusterOk(state, ["dns", "remove", domain]);
    expect(getent(`49983-abc.${domain}`)).toBeUndefined();
    expect(await nodeLookup(`49983-x.${domain}`)).toEqual([]);
    expect(getent(`b.other-${domain}`)).toBe("10.1.2.4");

    clusterOk(state, ["down"]);
    expect(readFileSync(RESOLV_CONF).equals(before)).toBe(true);
    expect(getent(`b.other-${domain}`)).toBeUndefined();
  });

  test("removing the last name gives resolv.conf back byte for byte", () => {
    const before = readFileSync(RESOLV_CONF);
    const state = stateDir();
    clusterOk(state, ["dns", "add", "last.test", "10.1.2.3"]);
    expect(readFileSync(RESOLV_CONF).equals(before)).toBe(false);
    clusterOk(state, ["dns", "remove", "last.test"]);
    expect(readFileSync(RESOLV_CONF).equals(before)).toBe(true);
  });

  test("a second cluster is refused while the first owns resolv.conf, and changes nothing", () => {
    const first = stateDir();
    const second = stateDir();
    clusterOk(first, ["dns", "add", "first.test", "10.1.2.3"]);
    const owned = readFileSync(RESOLV_CONF);
    const r = cluster(second, ["dns", "add", "second.test", "10.1.2.4"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`belongs to the DNS of the cluster in ${first}`);
    expect(readFileSync(RESOLV_CONF).equals(owned)).toBe(true);
    expect(getent("x.second.test")).toBeUndefined();
    expect(getent("x.first.test")).toBe("10.1.2.3");
  });

  test.each([
    ["a bad domain", ["add", "Not_A.Domain", "10.1.2.3"], /is not a domain name/],
    ["a single-label domain", ["add", "test", "10.1.2.3"], /is not a domain name/],
    ["a bad IP", ["add", "bad.test", "10.1.2.300"], /'10.1.2.300' is not an IP address/],
    ["a name for an IP", ["add", "bad.test", "gateway"], /is not an IP address/],
    ["no IP", ["add", "bad.test"], /usage: cluster dns add <domain> <ip>/],
    [
      "removing a name never added",
      ["remove", "never.test"],
      /never.test is not in this cluster's DNS/,
    ],
    ["an unknown subcommand", ["list"], /usage: cluster dns add/],
  ])("%s: exit 1 with a message, nothing changed", (_name, args, message) => {
    const before = readFileSync(RESOLV_CONF);
    const state = stateDir();
    const r = cluster(state, ["dns", ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(RESOLV_CONF).equals(before)).toBe(true);
    expect(() => statSync(join(state, "dns"))).toThrow();
  });
});
