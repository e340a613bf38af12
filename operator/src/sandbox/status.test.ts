import { isDeepStrictEqual } from "node:util";
import type { V1ContainerStatus, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import type { Condition, Sandbox, SandboxSpec, SandboxStatus } from "../../../api/gen/crd-types.js";
import { computeStatus, desiredPaused, envdEndpoint, type Observed } from "./status.js";

const T0 = new Date("2026-03-01T10:00:00Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const sandbox = (
  spec: Partial<SandboxSpec> = {},
  status?: SandboxStatus,
  annotations?: Record<string, string>,
): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "sb1", namespace: "a", uid: "u-1", generation: 3, annotations },
  spec: { template: { image: "x" }, ...spec },
  ...(status ? { status } : {}),
});

interface PodShape {
  node?: string;
  ip?: string;
  phase?: string;
  reason?: string;
  message?: string;
  deleting?: boolean;
  conditions?: V1PodCondition[];
  sandbox?: V1ContainerStatus["state"];
  envd?: V1ContainerStatus["state"];
}

const pod = (p: PodShape): V1Pod => ({
  metadata: { name: "sb1", ...(p.deleting ? { deletionTimestamp: T0 } : {}) },
  spec: { containers: [], ...(p.node ? { nodeName: p.node } : {}) },
  status: {
    phase: p.phase ?? "Pending",
    ...(p.ip ? { podIP: p.ip } : {}),
    ...(p.reason ? { reason: p.reason } : {}),
    ...(p.message ? { message: p.message } : {}),
    conditions: p.conditions ?? [],
    ...(p.sandbox ? { containerStatuses: [containerStatus("sandbox", p.sandbox)] } : {}),
    ...(p.envd ? { initContainerStatuses: [containerStatus("envd", p.envd)] } : {}),
  },
});

const containerStatus = (name: string, state: V1ContainerStatus["state"]): V1ContainerStatus => ({
  name,
  image: "x",
  imageID: "",
  ready: false,
  restartCount: 0,
  state,
});

const readyTrue = (since = T0): V1PodCondition => ({
  type: "Ready",
  status: "True",
  lastTransitionTime: since,
});
const scheduledTrue: V1PodCondition = { type: "PodScheduled", status: "True" };
const runningPod = (extra: Partial<PodShape> = {}) =>
  pod({
    node: "node-1",
    ip: "10.244.0.7",
    phase: "Running",
    conditions: [scheduledTrue, readyTrue()],
    ...extra,
  });
const waiting = (reason: string, message?: string): V1ContainerStatus["state"] => ({
  waiting: { reason, ...(message ? { message } : {}) },
});

/** type → [status, reason] */
type Brief = Record<string, [string, string]>;
const brief = (s: SandboxStatus): Brief =>
  Object.fromEntries((s.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));

describe("computeStatus", () => {
  test.each<[string, Sandbox, Partial<Observed>, SandboxStatus["phase"], Brief]>([
    [
      "no pod yet",
      sandbox(),
      {},
      "Pending",
      {
        Ready: ["False", "PodNotCreated"],
        Scheduled: ["False", "PodNotCreated"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a template error",
      sandbox(),
      { templateError: { reason: "TemplateNotFound", message: "ConfigMap x does not exist" } },
      "Failed",
      {
        Ready: ["False", "TemplateNotFound"],
        Scheduled: ["False", "PodNotCreated"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a template error is ignored while a pod runs",
      sandbox(),
      { pod: runningPod(), templateError: { reason: "TemplateInvalid", message: "bad" } },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a pod the scheduler has not seen",
      sandbox(),
      { pod: pod({}) },
      "Pending",
      {
        Ready: ["False", "PodNotScheduled"],
        Scheduled: ["False", "WaitingForScheduler"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "scheduled, containers starting",
      sandbox(),
      { pod: pod({ node: "node-1", ip: "10.0.0.1", conditions: [scheduledTrue] }) },
      "Starting",
      {
        Ready: ["False", "Starting"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a Ready pod",
      sandbox(),
      { pod: runningPod() },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a pod being deleted",
      sandbox(),
      { pod: runningPod({ deleting: true }) },
      "Pending",
      {
        Ready: ["False", "PodTerminating"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "an evicted pod",
      sandbox(),
      {
        pod: runningPod({
          phase: "Failed",
          reason: "Evicted",
          message: "The node was low on resource: memory.",
        }),
      },
      "Failed",
      {
        Ready: ["False", "Evicted"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a pod that ended without a reason",
      sandbox(),
      { pod: runningPod({ phase: "Succeeded" }) },
      "Failed",
      {
        Ready: ["False", "PodFailed"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a paused sandbox, frozen",
      sandbox({ state: "Paused" }),
      { pod: runningPod(), frozen: true },
      "Paused",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["True", "Frozen"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a pause not confirmed yet",
      sandbox({ state: "Paused" }),
      { pod: runningPod(), frozen: false },
      "Pausing",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "Pausing"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a pause before the pod is Ready",
      sandbox({ state: "Paused" }),
      { pod: pod({ node: "n", conditions: [scheduledTrue] }) },
      "Starting",
      {
        Ready: ["False", "Starting"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "Pausing"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "resuming: asked to run, envd still frozen",
      sandbox({ state: "Running" }),
      { pod: runningPod(), frozen: true },
      "Resuming",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["True", "Resuming"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "pauseMode Memory without node agents is refused and the sandbox keeps running",
      sandbox({ state: "Paused", pauseMode: "Memory" }),
      { pod: runningPod(), memoryPause: false },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "PauseModeNotSupported"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a Filesystem pause capturing the files",
      sandbox({ state: "Paused", pauseMode: "Filesystem" }),
      {
        pod: runningPod(),
        frozen: true,
        snapshotPause: { state: "capturing", snapshot: "sb-1", message: "capturing" },
      },
      "Pausing",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "Snapshotting"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a Filesystem pause stored, the pod gone",
      sandbox({ state: "Paused", pauseMode: "Filesystem" }),
      { snapshotPause: { state: "stored", snapshot: "sb-1", message: "stored" } },
      "Paused",
      {
        Ready: ["False", "PausedToSnapshot"],
        Scheduled: ["False", "PodNotCreated"],
        Paused: ["True", "SnapshotStored"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a Filesystem pause whose Snapshot failed runs on",
      sandbox({ state: "Paused", pauseMode: "Filesystem" }),
      {
        pod: runningPod(),
        frozen: false,
        snapshotPause: { state: "failed", snapshot: "sb-1", message: "storage down" },
      },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "SnapshotFailed"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a Memory pause its runtime cannot take is refused and runs on",
      sandbox({ state: "Paused", pauseMode: "Memory" }),
      {
        pod: runningPod(),
        frozen: false,
        snapshotPause: {
          state: "failed",
          snapshot: "sb-1",
          message: "Memory needs a runc-class runtime",
          unsupported: true,
        },
      },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "PauseModeNotSupported"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a resume restoring the Snapshot's files",
      sandbox({ state: "Running" }),
      {
        pod: pod({ node: "n", conditions: [scheduledTrue] }),
        restore: { state: "restoring", message: "putting the files back" },
      },
      "Resuming",
      {
        Ready: ["False", "Restoring"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a restore that failed",
      sandbox({ state: "Running" }),
      {
        pod: pod({ node: "n", conditions: [scheduledTrue] }),
        restore: { state: "failed", message: "sha256 mismatch" },
      },
      "Resuming",
      {
        Ready: ["False", "RestoreFailed"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a timeout not started yet",
      sandbox({ timeoutSeconds: 60 }),
      { pod: pod({ node: "n", conditions: [scheduledTrue] }) },
      "Starting",
      {
        Ready: ["False", "Starting"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NotExpired"],
      },
    ],
    [
      "a timeout running",
      sandbox({ timeoutSeconds: 60 }, { startedAt: "2026-03-01T10:00:00Z" }),
      { pod: runningPod(), now: at(30) },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NotExpired"],
      },
    ],
    [
      "expired with onTimeout Delete",
      sandbox({ timeoutSeconds: 60 }, { startedAt: "2026-03-01T10:00:00Z" }),
      { pod: runningPod(), now: at(61) },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["True", "DeletedOnTimeout"],
      },
    ],
    [
      "expired with onTimeout Pause, frozen",
      sandbox({ timeoutSeconds: 60, onTimeout: "Pause" }, { startedAt: "2026-03-01T10:00:00Z" }),
      { pod: runningPod(), now: at(61), frozen: true },
      "Paused",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["True", "Frozen"],
        Expired: ["True", "PausedOnTimeout"],
      },
    ],
    [
      "expired with onTimeout Pause, not frozen yet",
      sandbox({ timeoutSeconds: 60, onTimeout: "Pause" }, { startedAt: "2026-03-01T10:00:00Z" }),
      { pod: runningPod(), now: at(61), frozen: false },
      "Pausing",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "Pausing"],
        Expired: ["False", "PausingOnTimeout"],
      },
    ],
    [
      "expired with onTimeout Pause and pauseMode Memory, no node agents: refused, keeps running",
      sandbox(
        { timeoutSeconds: 60, onTimeout: "Pause", pauseMode: "Memory" },
        { startedAt: "2026-03-01T10:00:00Z" },
      ),
      { pod: runningPod(), now: at(61), memoryPause: false },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "PauseModeNotSupported"],
        Expired: ["False", "PauseModeNotSupported"],
      },
    ],
    [
      "an extended deadline un-expires a paused-on-timeout sandbox",
      sandbox(
        { timeoutSeconds: 60, onTimeout: "Pause" },
        { startedAt: "2026-03-01T10:00:00Z" },
        { "soulbox.dev/expires-at": "2026-03-01T11:00:00Z" },
      ),
      { pod: runningPod(), now: at(61), frozen: false },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NotExpired"],
      },
    ],
    [
      "egress with hostnames",
      sandbox({ network: { allowEgress: ["1.1.1.1", "example.com"] } }),
      { pod: runningPod(), unenforcedEgress: ["example.com"] },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        EgressEnforced: ["False", "HostnamesNotEnforced"],
      },
    ],
    [
      "egress fully enforced",
      sandbox(),
      { pod: runningPod(), unenforcedEgress: [] },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        EgressEnforced: ["True", "Enforced"],
      },
    ],
    [
      "a child that could not be applied makes a Ready pod's sandbox not Ready",
      sandbox(),
      {
        pod: runningPod(),
        applyFailures: [{ step: "apply the NetworkPolicy a/sb1", error: "500: etcd is down" }],
      },
      "Running",
      {
        Ready: ["False", "ApplyFailed"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "an apply failure wins over a template error",
      sandbox(),
      {
        templateError: { reason: "TemplateNotFound", message: "no ConfigMap" },
        applyFailures: [{ step: "apply the Secret a/sb1-envd", error: "403: forbidden" }],
      },
      "Failed",
      {
        Ready: ["False", "ApplyFailed"],
        Scheduled: ["False", "PodNotCreated"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a failed freeze",
      sandbox({ state: "Paused" }),
      { pod: runningPod(), envdFailure: { freeze: true, error: "envd did not answer" } },
      "Pausing",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "FreezeFailed"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "a failed thaw: still frozen",
      sandbox(
        {},
        {
          conditions: [
            {
              type: "Paused",
              status: "True",
              reason: "Frozen",
              message: "m",
              lastTransitionTime: T0.toISOString(),
            },
          ],
        },
      ),
      { pod: runningPod(), envdFailure: { freeze: false, error: "500: cgroup" } },
      "Resuming",
      {
        Paused: ["True", "ThawFailed"],
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Expired: ["False", "NoTimeout"],
      },
    ],
    [
      "the pod runs the current spec",
      sandbox(),
      { pod: runningPod(), podSpec: { state: "current" } },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        PodUpToDate: ["True", "SpecCurrent"],
      },
    ],
    [
      "the pod runs an earlier spec",
      sandbox(),
      { pod: runningPod(), podSpec: { state: "changed", what: "spec hash a, now b" } },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        PodUpToDate: ["False", "SpecChanged"],
      },
    ],
    [
      "the current spec cannot be computed",
      sandbox(),
      { pod: runningPod(), podSpec: { state: "unknown", why: "the template cannot be used" } },
      "Running",
      {
        Ready: ["True", "EnvdReady"],
        Scheduled: ["True", "Scheduled"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        PodUpToDate: ["Unknown", "SpecUnknown"],
      },
    ],
    [
      "no pod to compare",
      sandbox(),
      { podSpec: { state: "current" } },
      "Pending",
      {
        Ready: ["False", "PodNotCreated"],
        Scheduled: ["False", "PodNotCreated"],
        Paused: ["False", "NotPaused"],
        Expired: ["False", "NoTimeout"],
        PodUpToDate: ["Unknown", "PodNotCreated"],
      },
    ],
  ])("%s", (_name, sb, observed, phase, conditions) => {
    const status = computeStatus(sb, { now: T0, podName: "sb1", ...observed });
    expect(status.phase).toBe(phase);
    expect(brief(status)).toEqual(conditions);
    for (const c of status.conditions ?? []) {
      expect(c.observedGeneration).toBe(3);
      expect(c.message.length).toBeGreaterThan(0);
    }
  });

  test.each<[string, PodShape, string, string, SandboxStatus["phase"]]>([
    [
      "ErrImagePull",
      { sandbox: waiting("ErrImagePull", 'failed to pull image "nope:1": not found') },
      "ErrImagePull",
      'failed to pull image "nope:1": not found',
      "Starting",
    ],
    [
      "ImagePullBackOff",
      { sandbox: waiting("ImagePullBackOff", 'Back-off pulling image "nope:1"') },
      "ImagePullBackOff",
      'Back-off pulling image "nope:1"',
      "Starting",
    ],
    [
      "InvalidImageName is final",
      { sandbox: waiting("InvalidImageName", 'couldn\'t parse image name "A:B:C"') },
      "InvalidImageName",
      'couldn\'t parse image name "A:B:C"',
      "Failed",
    ],
    [
      "CreateContainerConfigError",
      { sandbox: waiting("CreateContainerConfigError", 'secret "openai" not found') },
      "CreateContainerConfigError",
      'secret "openai" not found',
      "Starting",
    ],
    [
      "CrashLoopBackOff",
      { sandbox: waiting("CrashLoopBackOff", "back-off 20s restarting failed container=sandbox") },
      "CrashLoopBackOff",
      "back-off 20s restarting failed container=sandbox",
      "Starting",
    ],
    [
      "a reason without a message",
      { sandbox: waiting("ErrImagePull") },
      "ErrImagePull",
      "ErrImagePull",
      "Starting",
    ],
    [
      "the envd sidecar's pull error, marked as such",
      { envd: waiting("ImagePullBackOff", 'Back-off pulling image "envd"') },
      "ImagePullBackOff",
      'envd sidecar: Back-off pulling image "envd"',
      "Starting",
    ],
    [
      "an ordinary wait is not a failure",
      { sandbox: waiting("ContainerCreating"), envd: waiting("PodInitializing") },
      "Starting",
      "the pod sb1 is starting",
      "Starting",
    ],
  ])("kubelet reasons surface: %s", (_name, shape, reason, message, phase) => {
    const p = pod({ node: "node-1", conditions: [scheduledTrue], ...shape });
    const status = computeStatus(sandbox(), { now: T0, pod: p });
    const ready = status.conditions?.find((c) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "False", reason, message });
    expect(status.phase).toBe(phase);
  });

  test("an unschedulable pod: Scheduled False with the scheduler's reason and message", () => {
    const message = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.";
    const p = pod({
      conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }],
    });
    const status = computeStatus(sandbox(), { now: T0, pod: p });
    expect(status.phase).toBe("Pending");
    expect(status.conditions?.find((c) => c.type === "Scheduled")).toMatchObject({
      status: "False",
      reason: "Unschedulable",
      message,
    });
    expect(status.conditions?.find((c) => c.type === "Ready")?.message).toContain(message);
  });

  test("pod facts: name, IP, node, envd endpoint, observedGeneration", () => {
    const status = computeStatus(sandbox(), { now: T0, pod: runningPod(), podName: "sb1" });
    expect(status).toMatchObject({
      podName: "sb1",
      podIP: "10.244.0.7",
      nodeName: "node-1",
      envdEndpoint: "http://10.244.0.7:49983",
      observedGeneration: 3,
    });
  });

  test("no pod: only the planned pod name, no stale facts", () => {
    const prev = computeStatus(sandbox(), { now: T0, pod: runningPod() });
    const status = computeStatus(sandbox({}, prev), { now: at(5), podName: "sb1" });
    expect(status.podName).toBe("sb1");
    expect(status).not.toHaveProperty("podIP");
    expect(status).not.toHaveProperty("nodeName");
    expect(status).not.toHaveProperty("envdEndpoint");
    expect(status.startedAt).toBe(prev.startedAt);
  });

  test("startedAt: when the pod became Ready, then kept", () => {
    const readyAt = at(-3);
    const first = computeStatus(sandbox({ timeoutSeconds: 60 }), {
      now: T0,
      pod: runningPod({ conditions: [scheduledTrue, readyTrue(readyAt)] }),
    });
    expect(first.startedAt).toBe("2026-03-01T09:59:57Z");
    expect(first.expiresAt).toBe("2026-03-01T10:00:57Z");
    const later = computeStatus(sandbox({ timeoutSeconds: 60 }, first), {
      now: at(30),
      pod: runningPod({ conditions: [scheduledTrue, readyTrue(at(20))] }),
    });
    expect(later.startedAt).toBe(first.startedAt);
    expect(later.expiresAt).toBe(first.expiresAt);
  });

  test("startedAt from a raw JSON pod (times as strings), never in the future", () => {
    const raw = runningPod({
      conditions: [
        scheduledTrue,
        {
          type: "Ready",
          status: "True",
          lastTransitionTime: "2026-03-01T10:05:00Z" as unknown as Date,
        },
      ],
    });
    expect(computeStatus(sandbox(), { now: T0, pod: raw }).startedAt).toBe("2026-03-01T10:00:00Z");
  });

  test("keeps lastSnapshot", () => {
    const status = computeStatus(sandbox({}, { lastSnapshot: "snap-1" }), { now: T0 });
    expect(status.lastSnapshot).toBe("snap-1");
  });

  test("leaves out fields without a value (so an unchanged status compares equal)", () => {
    const status = computeStatus(sandbox(), { now: T0 });
    expect(Object.values(status).every((v) => v !== undefined)).toBe(true);
    expect(isDeepStrictEqual(status, JSON.parse(JSON.stringify(status)))).toBe(true);
  });

  test("an IPv6 pod IP goes in brackets", () => {
    expect(envdEndpoint("fd00:10:244::7")).toBe("http://[fd00:10:244::7]:49983");
    expect(envdEndpoint("10.0.0.1")).toBe("http://10.0.0.1:49983");
  });
});

test("ApplyFailed names every failed step and its error", () => {
  const status = computeStatus(sandbox(), {
    now: T0,
    pod: runningPod(),
    applyFailures: [
      { step: "apply the NetworkPolicy a/sb1", error: "500: etcd is down" },
      { step: "patch the labels of the pod a/sb1", error: "403: forbidden" },
    ],
  });
  expect(status.conditions?.find((c) => c.type === "Ready")?.message).toBe(
    "could not apply the NetworkPolicy a/sb1: 500: etcd is down; could not patch the labels of the pod a/sb1: 403: forbidden (retrying)",
  );
});

describe("reconciling again and again", () => {
  test("20 reconciles of a Ready sandbox: the same four conditions, transition times unmoved, nothing to write", () => {
    let sb = sandbox({ timeoutSeconds: 3600 });
    const first = computeStatus(sb, { now: T0, pod: runningPod(), podName: "sb1" });
    sb = { ...sb, status: first };
    for (let i = 1; i <= 20; i++) {
      const next = computeStatus(sb, { now: at(i * 10), pod: runningPod(), podName: "sb1" });
      expect(isDeepStrictEqual(next, sb.status)).toBe(true);
      sb = { ...sb, status: next };
    }
    const conditions = sb.status?.conditions ?? [];
    expect(conditions.map((c) => c.type).sort()).toEqual([
      "Expired",
      "Paused",
      "Ready",
      "Scheduled",
    ]);
    expect(conditions.every((c) => c.lastTransitionTime === "2026-03-01T10:00:00.000Z")).toBe(true);
  });

  test("a flip moves only the flipped condition's transition time", () => {
    const sb0 = sandbox();
    const s1 = computeStatus(sb0, {
      now: T0,
      pod: pod({ node: "n", conditions: [scheduledTrue] }),
    });
    const s2 = computeStatus(sandbox({}, s1), { now: at(7), pod: runningPod() });
    const time = (s: SandboxStatus, type: string) =>
      s.conditions?.find((c: Condition) => c.type === type)?.lastTransitionTime;
    expect(time(s2, "Ready")).toBe(at(7).toISOString());
    expect(time(s2, "Scheduled")).toBe(time(s1, "Scheduled"));
    expect(time(s2, "Paused")).toBe(time(s1, "Paused"));
    expect(s2.conditions).toHaveLength(4);
  });

  test("a pause and resume cycle through the phases", () => {
    let sb = sandbox();
    const step = (spec: Partial<SandboxSpec>, frozen: boolean | undefined, seconds: number) => {
      sb = { ...sb, spec: { ...sb.spec, ...spec } };
      const status = computeStatus(sb, {
        now: at(seconds),
        pod: runningPod(),
        ...(frozen === undefined ? {} : { frozen }),
      });
      sb = { ...sb, status };
      return status.phase;
    };
    expect(step({}, undefined, 0)).toBe("Running");
    expect(step({ state: "Paused" }, undefined, 1)).toBe("Pausing");
    expect(step({}, true, 2)).toBe("Paused");
    expect(step({}, undefined, 3)).toBe("Paused"); // not asked: the last answer holds
    expect(step({ state: "Running" }, undefined, 4)).toBe("Resuming");
    expect(step({}, false, 5)).toBe("Running");
    expect(sb.status?.conditions).toHaveLength(4);
  });

  test("a pod replaced while frozen is not reported frozen", () => {
    const paused = computeStatus(sandbox({ state: "Paused" }), {
      now: T0,
      pod: runningPod(),
      frozen: true,
    });
    const restarting = computeStatus(sandbox({ state: "Paused" }, paused), {
      now: at(1),
      pod: pod({ node: "n", conditions: [scheduledTrue] }),
    });
    expect(restarting.phase).toBe("Starting");
    expect(restarting.conditions?.find((c) => c.type === "Paused")?.status).toBe("False");
  });
});

describe("desiredPaused", () => {
  const past = "2026-03-01T09:00:00Z";
  const future = "2026-03-01T11:00:00Z";
  test.each<
    [string, Partial<SandboxSpec>, string | undefined, boolean, string | undefined, boolean?]
  >([
    ["running", { state: "Running" }, undefined, false, undefined],
    ["no state", {}, undefined, false, undefined],
    ["paused, Freeze", { state: "Paused", pauseMode: "Freeze" }, undefined, true, undefined],
    ["paused, default mode", { state: "Paused" }, undefined, true, undefined],
    [
      "paused, Filesystem",
      { state: "Paused", pauseMode: "Filesystem" },
      undefined,
      true,
      undefined,
    ],
    [
      "paused, Memory, node agents",
      { state: "Paused", pauseMode: "Memory" },
      undefined,
      true,
      undefined,
      true,
    ],
    [
      "paused, Memory, no node agents",
      { state: "Paused", pauseMode: "Memory" },
      undefined,
      false,
      "PauseModeNotSupported",
      false,
    ],
    ["expired, onTimeout Pause", { onTimeout: "Pause", timeoutSeconds: 1 }, past, true, undefined],
    [
      "not expired, onTimeout Pause",
      { onTimeout: "Pause", timeoutSeconds: 1 },
      future,
      false,
      undefined,
    ],
    [
      "expired, onTimeout Delete",
      { onTimeout: "Delete", timeoutSeconds: 1 },
      past,
      false,
      undefined,
    ],
    [
      "expired, onTimeout Pause, Filesystem",
      { onTimeout: "Pause", timeoutSeconds: 1, pauseMode: "Filesystem" },
      past,
      true,
      undefined,
    ],
    [
      "expired, onTimeout Pause, Memory, node agents",
      { onTimeout: "Pause", timeoutSeconds: 1, pauseMode: "Memory" },
      past,
      true,
      undefined,
      true,
    ],
    [
      "expired, onTimeout Pause, Memory, no node agents",
      { onTimeout: "Pause", timeoutSeconds: 1, pauseMode: "Memory" },
      past,
      false,
      "PauseModeNotSupported",
      false,
    ],
  ])("%s", (_name, spec, expiresAt, paused, refused, memory = true) => {
    const d = desiredPaused(sandbox(spec), T0, expiresAt, memory);
    expect(d.paused).toBe(paused);
    expect(d.refused?.reason).toBe(refused);
    if (d.refused) expect(d.refused.message).toMatch(/needs the node agents.*keeps running/);
  });
});
