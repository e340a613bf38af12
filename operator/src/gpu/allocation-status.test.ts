import type { GpuAllocation } from "../../../api/gen/crd-types.js";
import { allocationStatus } from "./allocation-status.js";
import type { Placement } from "./placement.js";

const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T00:01:00Z");
const alloc = (status?: GpuAllocation["status"]): GpuAllocation => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "GpuAllocation",
  metadata: { name: "box", namespace: "ns", generation: 1 },
  spec: { sandbox: "box", count: 2, numaPolicy: "SingleNUMA" },
  ...(status ? { status } : {}),
});
const bound: Placement = {
  node: "n1",
  devices: [4, 5].map((i) => ({
    uuid: `g${i}`,
    index: i,
    product: "p",
    memoryMiB: 1,
    numaNode: 1,
    healthy: true,
  })),
};
const busy: Placement = {
  reason: "InsufficientFreeGpus",
  message: "no node has 2 free GPUs on one NUMA node",
  permanent: false,
};

test("placed: Bound with node, ids, devices and a True condition", () => {
  expect(allocationStatus(alloc(), { now: t0, sandboxExists: true, placement: bound })).toEqual({
    phase: "Bound",
    node: "n1",
    deviceIds: ["g4", "g5"],
    devices: [
      { uuid: "g4", index: 4, numaNode: 1 },
      { uuid: "g5", index: 5, numaNode: 1 },
    ],
    conditions: [
      {
        type: "Bound",
        status: "True",
        reason: "Bound",
        message: "2 GPUs on node n1 (index 4, 5; NUMA node 1)",
        observedGeneration: 1,
        lastTransitionTime: t0.toISOString(),
      },
    ],
  });
});

test("not placed: Pending, or Failed when permanent", () => {
  expect(
    allocationStatus(alloc(), { now: t0, sandboxExists: true, placement: busy }),
  ).toMatchObject({
    phase: "Pending",
    conditions: [{ status: "False", reason: "InsufficientFreeGpus", message: busy.message }],
  });
  expect(
    allocationStatus(alloc(), {
      now: t0,
      sandboxExists: true,
      placement: { ...busy, reason: "UnknownProduct", permanent: true },
    }).phase,
  ).toBe("Failed");
});

test("reconciled 20 times while Bound: one condition, the same transition time", () => {
  let a = alloc(allocationStatus(alloc(), { now: t0, sandboxExists: true, placement: bound }));
  for (let i = 0; i < 20; i++)
    a = alloc(
      allocationStatus(a, {
        now: new Date(t0.getTime() + i * 1000),
        sandboxExists: true,
        placement: busy,
      }),
    );
  expect(a.status?.phase).toBe("Bound");
  expect(a.status?.conditions).toHaveLength(1);
  expect(a.status?.conditions?.[0]?.lastTransitionTime).toBe(t0.toISOString());
});

test("the Sandbox gone: Released, the devices no longer held; never bound: Pending SandboxNotFound", () => {
  const b = alloc(allocationStatus(alloc(), { now: t0, sandboxExists: true, placement: bound }));
  expect(allocationStatus(b, { now: t1, sandboxExists: false })).toMatchObject({
    phase: "Released",
    node: "n1",
    conditions: [{ status: "False", reason: "Released", lastTransitionTime: t1.toISOString() }],
  });
  expect(allocationStatus(b, { now: t1, sandboxExists: false }).deviceIds).toBeUndefined();
  expect(allocationStatus(alloc(), { now: t1, sandboxExists: false })).toMatchObject({
    phase: "Pending",
    conditions: [{ reason: "SandboxNotFound" }],
  });
});
