/**
 * The on-GPU check (e2e/gpu/check.sh runs it; no Kubernetes): discovery against the real NVIDIA
 * driver, the inventory, the preferred choice for 1 and 2 GPUs, and Allocate in-process; a
 * process started in a mount namespace holding only what Allocate gave (the chosen /dev/nvidia<N>,
 * the control nodes, and /proc/driver/nvidia/gpus with only the chosen GPUs, as NVIDIA's
 * container runtime arranges it) must see exactly the chosen devices with `nvidia-smi -L`.
 * Exit: 0 success, 1 a mismatch, 77 no NVIDIA driver.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { containerAllocation } from "./allocate.js";
import { DiscoveryError, discover, driverSource } from "./discover.js";
import { preferredAllocation } from "./preferred.js";

const NO_DRIVER = 77;
const smi = process.env.NVIDIA_SMI ?? "nvidia-smi";

let inventory;
try {
  execFileSync(smi, ["-L"], { stdio: "pipe", timeout: 30_000 });
  inventory = await discover(driverSource(smi));
} catch (err) {
  const why = err instanceof DiscoveryError ? err.message : String(err);
  console.log(`no NVIDIA driver here (${smi}: ${why.split("\n")[0]}); nothing to check`);
  process.exit(NO_DRIVER);
}

console.log("inventory (nvidia-smi --query-gpu, topo -m, sysfs numa_node):");
for (const d of inventory.devices)
  console.log(
    `  GPU${d.index} ${d.uuid} ${d.name} ${d.memoryMiB} MiB bus ${d.pciBusId} NUMA ${d.numaNode ?? "-"}` +
      ` NVLink ${d.nvlinkPeers.length ? d.nvlinkPeers.join(",") : "-"}${inventory.unhealthy.has(d.uuid) ? ` UNHEALTHY (${inventory.unhealthy.get(d.uuid)})` : ""}`,
  );
const healthy = inventory.devices
  .filter((d) => !inventory.unhealthy.has(d.uuid))
  .map((d) => d.uuid);
const controlDevices = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"].filter(
  (f) => existsSync(`/dev/${f}`),
);

let failed = false;
for (const size of [1, 2]) {
  if (healthy.length < size) {
    console.log(`\n${size} GPU(s): only ${healthy.length} healthy here; skipped`);
    continue;
  }
  const chosen = preferredAllocation(inventory.devices, {
    available: healthy,
    mustInclude: [],
    size,
  });
  const byId = new Map(inventory.devices.map((d) => [d.uuid, d]));
  console.log(
    `\n${size} GPU(s): preferred ${chosen.map((id) => `GPU${byId.get(id)?.index} (NUMA ${byId.get(id)?.numaNode ?? "-"})`).join(", ")}`,
  );
  const alloc = containerAllocation(inventory.devices, chosen, {
    devRoot: "/dev",
    controlDevices,
    cdi: false,
    mounts: [],
  });
  console.log(
    `  Allocate: env ${JSON.stringify(alloc.envs)}, devices ${alloc.devices.map((d) => d.container_path).join(" ")}`,
  );
  // The container's view: a tmpfs /dev with only the allocated nodes (and the basics), and the
  // driver's per-GPU proc entries of the chosen GPUs only.
  const binds = alloc.devices.map(
    (d) =>
      `touch "$d/${d.container_path.slice(5)}"; mount --bind "${d.host_path}" "$d/${d.container_path.slice(5)}"`,
  );
  const gpus = chosen.map((id) => byId.get(id)?.pciBusId ?? "");
  const script = [
    "set -e",
    'd=$(mktemp -d); mount -t tmpfs -o mode=755 tmpfs "$d"',
    'for f in null zero random urandom full; do touch "$d/$f"; mount --bind "/dev/$f" "$d/$f"; done',
    ...binds,
    'p=$(mktemp -d); mount -t tmpfs tmpfs "$p"',
    ...gpus.map((b) => `mkdir "$p/${b}"; mount --bind "/proc/driver/nvidia/gpus/${b}" "$p/${b}"`),
    'mount --bind "$d" /dev',
    '[ ! -d /proc/driver/nvidia/gpus ] || mount --bind "$p" /proc/driver/nvidia/gpus',
    `exec env ${Object.entries(alloc.envs)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")} "${smi}" -L`,
  ].join("\n");
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
    encoding: "utf8",
  });
  const seen = [...r.stdout.matchAll(/UUID: (GPU-[0-9a-fA-F-]+)/g)].map((m) => m[1]);
  console.log(
    `  nvidia-smi -L in that view (exit ${r.status}):\n${r.stdout.replace(/^/gm, "    ")}${r.stderr.replace(/^/gm, "    ! ")}`,
  );
  const ok =
    r.status === 0 && seen.length === chosen.length && chosen.every((id) => seen.includes(id));
  console.log(
    `  ${ok ? "OK: it sees exactly the chosen GPUs" : `MISMATCH: chose ${chosen.join(",")}, it sees ${seen.join(",") || "none"}`}`,
  );
  failed ||= !ok;
}
process.exit(failed ? 1 : 0);
