/**
 * The device plugin as a process (dist/gpu-plugin.mjs) with a fake inventory of 8 GPUs on 2 NUMA
 * nodes, against a real gRPC peer in the kubelet's role: a Registration server on the plugin
 * dir's kubelet.sock, and a DevicePlugin client on the plugin's socket.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild } from "../../lib/stop-child.js";
import type { ApiDevice } from "./api.js";
import { fakeUuid } from "./fake-inventory.js";
import { devicePluginClient, serveRegistration } from "../test-support/kubelet-peer.js";

const PLUGIN = new URL("../../dist/gpu-plugin.mjs", import.meta.url).pathname;

let dir: string;
let kubelet: Awaited<ReturnType<typeof serveRegistration>>;
let plugin: ChildProcess;
let output = "";

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function until<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpu-plugin-"));
  kubelet = await serveRegistration(join(dir, "kubelet.sock"));
  output = "";
  plugin = spawn(
    process.execPath,
    [
      PLUGIN,
      ...["--fake-inventory", join(dir, "inventory"), "--fake-gpus", "8"],
      ...["--plugin-dir", dir, "--health-interval-ms", "100"],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  plugin.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  plugin.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  await until("the plugin registers", () => kubelet.registrations[0]);
});
afterEach(async () => {
  await stopChild(plugin);
  await kubelet.stop();
  await rm(dir, { recursive: true, force: true });
});

test("it registers nvidia.com/gpu with preferred allocation, and lists 8 healthy GPUs with their NUMA nodes", async () => {
  expect(kubelet.registrations).toEqual([
    {
      version: "v1beta1",
      endpoint: "soulbox-gpu.sock",
      resource_name: "nvidia.com/gpu",
      options: { pre_start_required: false, get_preferred_allocation_available: true },
    },
  ]);
  const client = devicePluginClient(join(dir, "soulbox-gpu.sock"));
  expect(await client.options()).toMatchObject({ get_preferred_allocation_available: true });
  let lists: ApiDevice[][] = [];
  const cancel = client.watch((d) => lists.push(d));
  const list = await until("the first list", () => lists[0]);
  expect(list.map((d) => [d.ID, d.health, d.topology?.nodes.map((n) => n.ID)])).toEqual(
    Array.from({ length: 8 }, (_, i) => [fakeUuid(i), "Healthy", [i < 4 ? 0 : 1]]),
  );
  lists = [];
  cancel();
  client.close();
});

test("preferred allocation keeps 2 on one NUMA node, NVLinked; Allocate gives their device nodes and env", async () => {
  const client = devicePluginClient(join(dir, "soulbox-gpu.sock"));
  const all = Array.from({ length: 8 }, (_, i) => fakeUuid(i));
  const pref = await client.preferred(all.slice(1), 2); // NUMA 0 has 3 free: best fit, the intact pair
  expect(pref.container_responses[0]?.deviceIDs).toEqual([fakeUuid(2), fakeUuid(3)]);
  const res = await client.allocate([fakeUuid(3), fakeUuid(2)]);
  const c = res.container_responses[0];
  expect(c?.envs).toEqual({ NVIDIA_VISIBLE_DEVICES: `${fakeUuid(2)},${fakeUuid(3)}` });
  expect(c?.devices.map((d) => d.container_path)).toEqual([
    "/dev/nvidia2",
    "/dev/nvidia3",
    "/dev/nvidiactl",
  ]);
  for (const d of c?.devices ?? [])
    expect((await stat(d.host_path)).isCharacterDevice()).toBe(true);
  await expect(client.allocate(["GPU-unknown"])).rejects.toThrow("unknown device ids: GPU-unknown");
  client.close();
});

test("a device reported failing turns Unhealthy in ListAndWatch, and Allocate refuses it", async () => {
  const client = devicePluginClient(join(dir, "soulbox-gpu.sock"));
  const lists: ApiDevice[][] = [];
  const cancel = client.watch((d) => lists.push(d));
  await until("the first list", () => lists[0]);
  await writeFile(join(dir, "inventory", "unhealthy"), `${fakeUuid(5)} XID 79\n`);
  const next = await until("an Unhealthy list", () =>
    lists.find((l) => l.some((d) => d.health === "Unhealthy")),
  );
  expect(next.filter((d) => d.health === "Unhealthy").map((d) => d.ID)).toEqual([fakeUuid(5)]);
  await expect(client.allocate([fakeUuid(5)])).rejects.toThrow(
    "unhealthy devices cannot be allocated",
  );
  // Preferred allocation never offers it, even when the kubelet lists it as available.
  const pref = await client.preferred([fakeUuid(4), fakeUuid(5), fakeUuid(6)], 1);
  expect(pref.container_responses[0]?.deviceIDs).toEqual([fakeUuid(4)]);
  cancel();
  client.close();
});

test("a kubelet restart (new kubelet.sock, plugin sockets removed) makes it register again", async () => {
  await kubelet.stop();
  await rm(join(dir, "soulbox-gpu.sock"), { force: true }); // the kubelet clears the dir at start
  kubelet = await serveRegistration(join(dir, "kubelet.sock"));
  const again = await until("a new registration", () => kubelet.registrations[0]);
  expect(again.resource_name).toBe("nvidia.com/gpu");
  const client = devicePluginClient(join(dir, "soulbox-gpu.sock"));
  expect(await client.options()).toMatchObject({ get_preferred_allocation_available: true });
  client.close();
});

test.each([
  [["--fake-gpus", "3"], "--fake-gpus needs --fake-inventory DIR"],
  [["--fake-inventory", "/nonexistent-dir-x", "--discover"], "has no query.csv"],
])("bad input %j: a clear error, exit status not 0", (args, message) => {
  const r = spawnSync(process.execPath, [PLUGIN, ...args], { encoding: "utf8" });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(message);
});

test("e2e/gpu/check.sh without an NVIDIA driver: exit 77 (a skip), saying so", () => {
  const check = new URL("../../e2e/gpu/check.sh", import.meta.url).pathname;
  for (const smi of ["/nonexistent/nvidia-smi", "/bin/false"]) {
    const r = spawnSync(check, [], { encoding: "utf8", env: { ...process.env, NVIDIA_SMI: smi } });
    expect(r.status).toBe(77);
    expect(r.stdout).toContain("no NVIDIA driver here");
  }
});
