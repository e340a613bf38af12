/**
 * The GpuAllocation a Sandbox with `spec.gpu` asks for, and what its Bound status adds to the
 * sandbox pod. Pure.
 */
import type { V1Pod } from "@kubernetes/client-node";
import {
  GpuAllocationResource,
  type GpuAllocation,
  type Sandbox,
} from "../../../api/gen/crd-types.js";
import { Label, labelValue } from "../../../api/labels.js";
import { ownedMetadata } from "../sandbox/owner.js";

/** The pod annotation that names the GPUs reserved for it (for people; the kubelet decides). */
export const GPU_DEVICES_ANNOTATION = "gpu.soulbox.dev/devices";

/** Named after the Sandbox, owned by it (so it goes with it); undefined without spec.gpu. */
export function desiredGpuAllocation(sb: Sandbox): GpuAllocation | undefined {
  const gpu = sb.spec.gpu;
  if (!gpu) return undefined;
  const name = sb.metadata.name ?? "";
  return {
    apiVersion: GpuAllocationResource.apiVersion,
    kind: GpuAllocationResource.kind,
    metadata: ownedMetadata(sb, name, {
      [Label.sandbox]: labelValue(name),
      [Label.component]: "gpu-allocation",
    }),
    spec: {
      sandbox: name,
      count: gpu.count,
      ...(gpu.product ? { product: gpu.product } : {}),
      numaPolicy: gpu.sameNuma ? "SingleNUMA" : "Any",
    },
  };
}

/**
 * The pod, pinned to the allocation's node (required node affinity on the node's name, so the
 * scheduler still checks the GPU limit fits) and annotated with the reserved device ids.
 */
export function withGpuAllocation(pod: V1Pod, allocation: GpuAllocation | undefined): V1Pod {
  const node = allocation?.status?.phase === "Bound" ? allocation.status.node : undefined;
  if (!node) return pod;
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: {
        ...pod.metadata?.annotations,
        [GPU_DEVICES_ANNOTATION]: (allocation?.status?.deviceIds ?? []).join(","),
      },
    },
    spec: {
      ...pod.spec,
      containers: pod.spec?.containers ?? [],
      affinity: {
        ...pod.spec?.affinity,
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] },
            ],
          },
        },
      },
    },
  };
}
