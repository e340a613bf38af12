// The global setup of the `cluster` project (see jest.config.js), once per test run that has
// cluster tests: build dist/ (once, shared with the `process` project's setup), and bring up the
// local cluster (e2e/cluster: control plane and a node with containerd and a kubelet) in a state
// dir of this run's own, so a developer's cluster is never touched. Set SOULBOX_CLUSTER=off to
// run the cluster tests on a cluster of one's own (KUBECONFIG), or SOULBOX_NODE=off for the
// control plane alone. Runs of unit or process tests only never get here.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildDistOnce } from "./jest.build-setup.js";

/**
 * Test workers start after this: with NODE_EXTRA_CA_CERTS set to the cluster's gateway CA
 * (`up` makes it), they trust the gateway's *.<domain> certificates.
 */
function trustGatewayCa(stateDir) {
  const ca = join(stateDir, "pki", "gateway-ca.crt");
  if (existsSync(ca)) process.env.NODE_EXTRA_CA_CERTS = ca;
}

/**
 * The gateway's tests give the test cluster's DNS names through /etc/resolv.conf, which only one
 * cluster can own: a local SoulBox left up (`./run.sh demo`, `e2e/cluster/up`) would make them fail
 * half-way, so say so before anything starts.
 */
function refuseForeignDnsOwner() {
  let first = "";
  try {
    first = readFileSync("/etc/resolv.conf", "utf8").split("\n", 1)[0] ?? "";
  } catch {
    return;
  }
  const owner = /^# soulbox-cluster-dns (.+)$/.exec(first)?.[1];
  if (!owner) return;
  let pid = "";
  try {
    pid = readFileSync(join(owner, "dns", "dnsmasq.pid"), "utf8").trim();
    if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "dnsmasq") return;
  } catch {
    return; // its dnsmasq is gone: `dns add` takes resolv.conf over
  }
  throw new Error(
    `the local cluster in ${owner} owns /etc/resolv.conf (its dnsmasq, pid ${pid}, serves the ` +
      `gateway's names) and the tests need it: take that cluster down first ` +
      `(SOULBOX_CLUSTER_DIR=${owner} e2e/cluster/down), or run with SOULBOX_CLUSTER=off`,
  );
}

export default function globalSetup() {
  buildDistOnce();
  if (process.env.SOULBOX_CLUSTER === "off") {
    // A cluster of one's own (KUBECONFIG in its state dir): its gateway CA, when it has one.
    if (process.env.KUBECONFIG) trustGatewayCa(dirname(process.env.KUBECONFIG));
    return;
  }
  refuseForeignDnsOwner();
  const dir = join(tmpdir(), `soulbox-test-cluster-${process.pid}`);
  process.env.SOULBOX_CLUSTER_DIR = dir;
  const started = Date.now();
  const upArgs = process.env.SOULBOX_NODE === "off" ? ["up"] : ["up", "--with-node"];
  const r = spawnSync("e2e/cluster/cluster", upArgs, {
    env: process.env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) {
    spawnSync("e2e/cluster/cluster", ["down"], { env: process.env, stdio: "inherit" });
    throw new Error(`e2e/cluster/cluster ${upArgs.join(" ")} failed with status ${r.status}`);
  }
  const last = r.stdout.trim().split("\n").pop() ?? "";
  const match = /^export KUBECONFIG=(.+)$/.exec(last);
  if (!match) throw new Error(`cluster up did not end with an export line: ${last}`);
  process.env.KUBECONFIG = match[1];
  trustGatewayCa(dir);
  console.log(
    `\n[cluster] build + up took ${((Date.now() - started) / 1000).toFixed(1)} s; KUBECONFIG=${match[1]}`,
  );
}
