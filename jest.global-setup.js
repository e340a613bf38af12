// Once per test run: build the bundled envd, and bring up the local cluster
// (e2e/cluster: control plane and a node with containerd and a kubelet) in a
// state dir of this run's own, so a developer's cluster is never touched. Set
// SOULBOX_CLUSTER=off to skip the cluster when running only envd tests, or
// SOULBOX_NODE=off for the control plane alone.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Test workers start after this: with NODE_EXTRA_CA_CERTS set to the cluster's gateway CA
 * (`up` makes it), they trust the gateway's *.<domain> certificates.
 */
function trustGatewayCa(stateDir) {
  const ca = join(stateDir, "pki", "gateway-ca.crt");
  if (existsSync(ca)) process.env.NODE_EXTRA_CA_CERTS = ca;
}

export default function globalSetup() {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  if (process.env.SOULBOX_CLUSTER === "off") {
    // A cluster of one's own (KUBECONFIG in its state dir): its gateway CA, when it has one.
    if (process.env.KUBECONFIG) trustGatewayCa(dirname(process.env.KUBECONFIG));
    return;
  }
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
