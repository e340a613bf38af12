import type { GpuAllocation, Sandbox } from "../../../api/gen/crd-types.js";
import { computeStatus } from "../sandbox/status.js";
import { desiredGpuAllocation, withGpuAllocation } from "./desired-gpu-allocation.js";

const sb = (gpu?: Sandbox["spec"]["gpu"]): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "box", namespace: "ns", uid: "u1", generation: 1 },
  spec: { template: { image: "x" }, ...(gpu ? { gpu } : {}) },
});

test.each<[string, Sandbox["spec"]["gpu"], GpuAllocation["spec"] | undefined]>([
  ["no gpu: none", undefined, undefined],
  [
    "2 sameNuma of a product",
    { count: 2, product: "P", sameNuma: true },
    { sandbox: "box", count: 2, product: "P", numaPolicy: "SingleNUMA" },
  ],
  ["1 anywhere", { count: 1 }, { sandbox: "box", count: 1, numaPolicy: "Any" }],
])("desiredGpuAllocation: %s", (_what, gpu, spec) => {
  const a = desiredGpuAllocation(sb(gpu));
  expect(a?.spec).toEqual(spec);
  if (a)
    expect(a.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Sandbox", name: "box", uid: "u1", controller: true }),
    ]);
});

const boundTo = (node: string, phase = "Bound"): GpuAllocation => ({
  ...(desiredGpuAllocation(sb({ count: 2 })) as GpuAllocation),
  status: { phase: phase as "Bound", node, deviceIds: ["GPU-a", "GPU-b"] },
});

test("a Bound allocation pins the pod to its node and names its devices", () => {
  const pod = withGpuAllocation(
    { metadata: { name: "box" }, spec: { containers: [] } },
    boundTo("gpu-1"),
  );
  expect(pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
    nodeSelectorTerms: [
      { matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-1"] }] },
    ],
  });
  expect(pod.metadata?.annotations).toEqual({ "gpu.soulbox.dev/devices": "GPU-a,GPU-b" });
});

test("an allocation that is not Bound changes nothing", () => {
  const pod = { metadata: { name: "box" }, spec: { containers: [] } };
  expect(withGpuAllocation(pod, boundTo("gpu-1", "Pending"))).toBe(pod);
  expect(withGpuAllocation(pod, undefined)).toBe(pod);
});

test("a sandbox waiting for GPUs: Pending (Failed when it can never be placed), Scheduled and Ready say why", () => {
  const wait = {
    reason: "WaitingForGpus",
    message: "the GpuAllocation box is Pending: no node has 2 free GPUs",
    failed: false,
  };
  const s = computeStatus(sb({ count: 2 }), { now: new Date(0), gpuWait: wait });
  expect(s.phase).toBe("Pending");
  for (const type of ["Ready", "Scheduled"])
    expect(s.conditions?.find((c) => c.type === type)).toMatchObject({
      status: "False",
      reason: "WaitingForGpus",
      message: wait.message,
    });
  expect(
    computeStatus(sb({ count: 2 }), { now: new Date(0), gpuWait: { ...wait, failed: true } }).phase,
  ).toBe("Failed");
});
