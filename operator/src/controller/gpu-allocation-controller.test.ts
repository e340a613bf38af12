import type * as k8s from "@kubernetes/client-node";
import { podHeldDevices } from "./gpu-allocation-controller.js";

const pod = (
  node: string | undefined,
  devices: string | undefined,
  phase = "Running",
): k8s.V1Pod => ({
  metadata: {
    name: "p",
    ...(devices !== undefined ? { annotations: { "gpu.soulbox.dev/devices": devices } } : {}),
  },
  spec: { containers: [], ...(node ? { nodeName: node } : {}) },
  status: { phase },
});

test.each<[string, k8s.V1Pod[], Record<string, string[]>]>([
  ["a running pod holds its devices", [pod("n1", "GPU-a,GPU-b")], { n1: ["GPU-a", "GPU-b"] }],
  [
    "a terminating (still running) pod too, with another on the node",
    [pod("n1", "GPU-a"), pod("n1", "GPU-c", "Pending")],
    { n1: ["GPU-a", "GPU-c"] },
  ],
  [
    "an ended pod holds nothing",
    [pod("n1", "GPU-a", "Succeeded"), pod("n1", "GPU-b", "Failed")],
    {},
  ],
  [
    "an unscheduled pod or one without GPUs holds nothing",
    [pod(undefined, "GPU-a"), pod("n1", undefined)],
    {},
  ],
])("%s", (_what, pods, want) => {
  expect(Object.fromEntries(podHeldDevices(pods))).toEqual(want);
});
