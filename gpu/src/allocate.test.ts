import { UnknownDeviceError, containerAllocation } from "./allocate.js";
import type { GpuDevice } from "./inventory.js";

const devices: GpuDevice[] = [0, 1, 2].map((i) => ({
  index: i,
  uuid: `GPU-${i}`,
  name: "H100",
  memoryMiB: 1,
  pciBusId: "",
  numaNode: 0,
  nvlinkPeers: [],
}));
const base = { devRoot: "/fake/dev", controlDevices: ["nvidiactl"], cdi: false, mounts: [] };

test("device nodes, NVIDIA_VISIBLE_DEVICES in index order, the control nodes", () => {
  expect(containerAllocation(devices, ["GPU-2", "GPU-0"], base)).toEqual({
    envs: { NVIDIA_VISIBLE_DEVICES: "GPU-0,GPU-2" },
    mounts: [],
    devices: [
      { container_path: "/dev/nvidia0", host_path: "/fake/dev/nvidia0", permissions: "rw" },
      { container_path: "/dev/nvidia2", host_path: "/fake/dev/nvidia2", permissions: "rw" },
      { container_path: "/dev/nvidiactl", host_path: "/fake/dev/nvidiactl", permissions: "rw" },
    ],
    annotations: {},
    cdi_devices: [],
  });
});

test("CDI names and read-only mounts when asked", () => {
  const r = containerAllocation(devices, ["GPU-1"], {
    ...base,
    cdi: true,
    mounts: [{ hostPath: "/usr/lib/nvidia", containerPath: "/usr/local/nvidia" }],
  });
  expect(r.cdi_devices).toEqual([{ name: "nvidia.com/gpu=GPU-1" }]);
  expect(r.mounts).toEqual([
    { container_path: "/usr/local/nvidia", host_path: "/usr/lib/nvidia", read_only: true },
  ]);
});

test("an id the plugin never advertised is refused", () => {
  expect(() => containerAllocation(devices, ["GPU-0", "GPU-9"], base)).toThrow(
    new UnknownDeviceError("unknown device ids: GPU-9"),
  );
});
