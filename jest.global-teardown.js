// Stops the cluster that the global setup started (by pid) and removes its state; `down` also
// stops its dnsmasq and gives /etc/resolv.conf back as it was, when a test added names.
import { spawnSync } from "node:child_process";

export default function globalTeardown() {
  if (!process.env.SOULBOX_CLUSTER_DIR) return;
  spawnSync("e2e/cluster/cluster", ["down"], { env: process.env, stdio: "inherit" });
}
