// The `cluster` project's global teardown (see jest.config.js): stops the cluster that
// jest.global-setup.js started (by pid) and removes its state; `down` also stops its dnsmasq and
// gives /etc/resolv.conf back as it was, when a test added names.
import { spawnSync } from "node:child_process";

export default function globalTeardown() {
  // With SOULBOX_CLUSTER=off the tests ran on someone's own cluster (SOULBOX_CLUSTER_DIR may name
  // it so that `cluster dns`/`cert` find its state): never take that one down.
  if (!process.env.SOULBOX_CLUSTER_DIR || process.env.SOULBOX_CLUSTER === "off") return;
  spawnSync("e2e/cluster/cluster", ["down"], { env: process.env, stdio: "inherit" });
}
