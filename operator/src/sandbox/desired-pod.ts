/**
 * The sandbox pod, exactly as the pod contract decides it. It is computed
 * from the Sandbox, its resolved template and the operator's settings alone
 * (no cluster reads), so the same inputs always give the same object and
 * server-side apply of it twice changes nothing.
 *
 * A pod's spec is mostly immutable, and replacing a sandbox's pod ends every
 * process in it, so the policy for a changed spec (a new template, envd image
 * or runtime class, a changed `envFrom` or GPU) is: the running pod stays as
 * it is, the Sandbox's `PodUpToDate` condition says it runs an earlier spec,
 * and the next pod (once this one is deleted or ends) gets the current spec.
 * To tell, the pod records the hash of the spec it was made from
 * ({@link Annotation.podSpecHash}); {@link podSpecView} compares it, and the
 * container images (the one part of a pod spec that can be edited in place).
 * Labels are not part of the spec: the reconciler keeps them current on the
 * running pod.
 */
import { canonicalHash } from "../../../lib/canonical-json.js";
import type { V1Container, V1Pod, V1PodSpec, V1SecurityContext } from "@kubernetes/client-node";
import type { Sandbox, SandboxTemplate } from "../../../api/gen/crd-types.js";
import { Annotation, Label } from "../../../api/labels.js";
import { ENVD_NODE_FLAGS, ENVD_PORT, tokenSecretName, TOKEN_KEY } from "../../../api/envd.js";
import { RESTORED_MARKER } from "../../../api/node-agent.js";
import { RESTORE_FROM_ANNOTATION } from "../../../api/snapshot.js";
import { childMetadata } from "./owner.js";
import type { SandboxPodSettings } from "./settings.js";
import type { PodSpecView } from "./status.js";

/** The shared emptyDir: the executor kit and the executor's socket live there. */
export const SHARED_VOLUME = "soulbox";
/** Where the shared volume is mounted in both containers. */
export const SHARED_MOUNT = "/soulbox";
/** The unix socket between envd and the executor. */
export const EXECUTOR_SOCKET = `${SHARED_MOUNT}/run/executor.sock`;
/**
 * Where the sandbox container finds the kit and starts the executor from: copied there by envd's
 * entrypoint, or mounted there read-only from the envd image (kitVolume `image`).
 */
export const KIT_DIR = `${SHARED_MOUNT}/kit`;
/** The image volume of the envd image (kitVolume `image`). */
export const KIT_IMAGE_VOLUME = "soulbox-kit";
/** Where the envd image keeps the kit: the image volume's subPath. */
export const IMAGE_KIT_SUBPATH = "opt/soulbox/kit";
/** Tells envd's entrypoint that the kit is mounted, so it copies nothing. */
export const KIT_VOLUME_ENV = "SOULBOX_KIT_VOLUME";
/** Where the sandbox container sees the node agent's restore marker (api/node-agent.ts). */
export const RESTORED_MARKER_PATH = `${SHARED_MOUNT}/${RESTORED_MARKER}`;
/** The extended resource of NVIDIA GPUs (the device plugin's name). */
export const GPU_RESOURCE = "nvidia.com/gpu";
/** The node label the NVIDIA GPU feature discovery sets to the GPU model. */
export const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";

/**
 * The executor's command line: the kit's own loader runs the kit's node, so
 * it works in any Linux image. The template's command and args follow `--`
 * (command first, then args, as Kubernetes joins them); with neither, nothing
 * follows and the executor just serves. Args without a command form the whole
 * start command: the image's entrypoint is replaced and cannot be known here.
 */
export function executorCommand(template: SandboxTemplate, restoring = false): string[] {
  return [
    `${KIT_DIR}/ld.so`,
    "--library-path",
    `${KIT_DIR}/lib`,
    `${KIT_DIR}/node`,
    ...ENVD_NODE_FLAGS,
    `${KIT_DIR}/executor.mjs`,
    "--socket",
    EXECUTOR_SOCKET,
    // The container's env (image ENV, template env, envFrom Secrets) is the sandbox's.
    "--inherit-env",
    // A pod restored from a Snapshot: nothing starts until the node agent put the files back.
    ...(restoring ? ["--wait-for", RESTORED_MARKER_PATH] : []),
    "--",
    ...(template.command ?? []),
    ...(template.args ?? []),
  ];
}

/**
 * The pod of `sb`, a complete object with apiVersion and kind for
 * server-side apply: the envd native sidecar (an init container with
 * `restartPolicy: Always`) and the sandbox container running the executor as
 * PID 1 in the template image. Labels: the user's `spec.metadata`, the team
 * label of the Sandbox if it has one, and the sandbox labels (which win).
 * Annotation {@link Annotation.podSpecHash}: {@link podSpecHash} of the spec
 * (see the module note for what is done with it). Throws when the Sandbox lacks name, namespace or uid.
 */
export function desiredPod(
  sb: Sandbox,
  template: SandboxTemplate,
  settings: SandboxPodSettings,
  restoreFrom?: string,
): V1Pod {
  const spec = podSpec(sb, template, settings, restoreFrom !== undefined);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...childMetadata(sb, sb.metadata.name ?? "", "pod"),
      labels: podLabels(sb),
      annotations: {
        [Annotation.podSpecHash]: podSpecHash(spec),
        ...(restoreFrom !== undefined ? { [RESTORE_FROM_ANNOTATION]: restoreFrom } : {}),
      },
    },
    spec,
  };
}

/**
 * The sandbox pod's labels: the user's `spec.metadata`, the team label of the
 * Sandbox if it has one, and the sandbox labels (which win). They need no
 * template, so a running pod's labels are kept current even when the
 * template cannot be read. Throws as {@link desiredPod} does.
 */
export function podLabels(sb: Sandbox): Record<string, string> {
  const meta = childMetadata(sb, sb.metadata.name ?? "", "pod");
  const team = sb.metadata.labels?.[Label.team];
  return { ...sb.spec.metadata, ...(team ? { [Label.team]: team } : {}), ...meta.labels };
}

/**
 * A short, stable hash of a pod spec (key order does not matter). Labels and
 * annotations are outside it on purpose: they can change on a running pod.
 */
export function podSpecHash(spec: V1PodSpec): string {
  return canonicalHash(spec);
}

/**
 * How the live pod's spec compares with `desired` (both pods of the same
 * Sandbox): "changed" when the spec hash it was made from differs from the
 * desired one or a container runs another image than the desired spec says
 * (an image edited in place); "unknown" when the pod records no hash. Pure.
 */
export function podSpecView(live: V1Pod, desired: V1Pod): PodSpecView {
  const made = live.metadata?.annotations?.[Annotation.podSpecHash];
  const want = desired.metadata?.annotations?.[Annotation.podSpecHash];
  if (!made) return { state: "unknown", why: "the pod does not record the spec it was made from" };
  if (made !== want) return { state: "changed", what: `spec hash ${made}, now ${want ?? "?"}` };
  const image = changedImage(live.spec, desired.spec);
  return image ? { state: "changed", what: image } : { state: "current" };
}

function changedImage(live: V1PodSpec | undefined, desired: V1PodSpec | undefined) {
  const all = (s: V1PodSpec | undefined) => [
    ...(s?.initContainers ?? []),
    ...(s?.containers ?? []),
  ];
  const liveImages = new Map(all(live).map((c) => [c.name, c.image]));
  for (const c of all(desired)) {
    const image = liveImages.get(c.name);
    if (image !== c.image)
      return `container ${c.name} runs ${image ?? "nothing"}, the spec says ${c.image ?? "?"}`;
  }
  return undefined;
}

/** What a sandbox pod's spec takes from whoever it is made for (a Sandbox, or a SandboxPool). */
export interface PodIdentity {
  /** The Secret whose token envd starts with. */
  tokenSecret: string;
  envFrom?: Sandbox["spec"]["envFrom"];
  gpu?: Sandbox["spec"]["gpu"];
  /** PersistentVolumeClaims mounted into the sandbox container (never for a pool pod). */
  volumeMounts?: Sandbox["spec"]["volumeMounts"];
  /** The pod is restored from a Snapshot: its executor waits for the restore marker. */
  restoring?: boolean;
}

/** The pod volume of the `i`th entry of `spec.volumeMounts`. */
export const claimVolumeName = (i: number) => `soulbox-claim-${i}`;

function podSpec(
  sb: Sandbox,
  template: SandboxTemplate,
  settings: SandboxPodSettings,
  restoring: boolean,
): V1PodSpec {
  return sandboxPodSpec(
    {
      tokenSecret: tokenSecretName(sb.metadata.name ?? ""),
      envFrom: sb.spec.envFrom,
      gpu: sb.spec.gpu,
      volumeMounts: sb.spec.volumeMounts,
      restoring,
    },
    template,
    settings,
  );
}

/**
 * The spec of a sandbox pod made for `who` from `template`: the envd native sidecar and the
 * sandbox container running the executor. Pure.
 */
export function sandboxPodSpec(
  who: PodIdentity,
  template: SandboxTemplate,
  settings: SandboxPodSettings,
): V1PodSpec {
  const mounts = [{ name: SHARED_VOLUME, mountPath: SHARED_MOUNT }];
  const imageKit = settings.kitVolume === "image";
  const envd: V1Container = {
    name: "envd",
    image: settings.envdImage,
    imagePullPolicy: "IfNotPresent",
    // A native sidecar: started (startup probe passed) before the sandbox container,
    // kept running beside it, stopped after it.
    restartPolicy: "Always",
    args: ["--port", String(ENVD_PORT), "--executor-socket", EXECUTOR_SOCKET],
    env: [
      {
        name: "ENVD_ACCESS_TOKEN",
        valueFrom: { secretKeyRef: { name: who.tokenSecret, key: TOKEN_KEY } },
      },
      ...(imageKit ? [{ name: KIT_VOLUME_ENV, value: "image" }] : []),
    ],
    ports: [{ name: "envd", containerPort: ENVD_PORT, protocol: "TCP" }],
    startupProbe: {
      httpGet: { path: "/health", port: ENVD_PORT },
      periodSeconds: 1,
      failureThreshold: 60,
    },
    // 204 once the executor answers on the socket: the pod is Ready only when
    // the sandbox can really be used.
    // Every second (the least Kubernetes allows): the first check after the executor answers
    // is what a cold start waits for, about half a period on average.
    readinessProbe: { httpGet: { path: "/ready", port: ENVD_PORT }, periodSeconds: 1 },
    securityContext: {
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: mounts,
  };

  // Only the sandbox container: the executor there runs the processes and does envd's file
  // operations (the sidecar forwards them over the socket), so both see the volume.
  const claims = who.volumeMounts ?? [];
  const sandbox: V1Container = {
    name: "sandbox",
    image: template.image,
    imagePullPolicy: "IfNotPresent",
    command: executorCommand(template, who.restoring === true),
    securityContext: sandboxSecurityContext(),
    volumeMounts: [
      ...mounts,
      ...(imageKit
        ? [
            {
              name: KIT_IMAGE_VOLUME,
              mountPath: KIT_DIR,
              subPath: IMAGE_KIT_SUBPATH,
              readOnly: true,
            },
          ]
        : []),
      ...claims.map((m, i) => ({ name: claimVolumeName(i), mountPath: m.path })),
    ],
  };
  if (template.env?.length)
    sandbox.env = template.env.map((e) => ({ name: e.name, value: e.value ?? "" }));
  // Only references: the values stay in the Secrets and reach the container
  // through the kubelet, never through the Sandbox or this spec.
  if (who.envFrom?.length)
    sandbox.envFrom = who.envFrom.map((e) => ({ secretRef: { name: e.secretRef.name } }));
  const resources = resourcesOf(template, who.gpu?.count);
  if (resources) sandbox.resources = resources;

  const spec: V1PodSpec = {
    runtimeClassName: template.runtimeClassName ?? settings.defaultRuntimeClassName,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 5,
    initContainers: [envd],
    containers: [sandbox],
    volumes: [
      { name: SHARED_VOLUME, emptyDir: {} },
      ...(imageKit
        ? [
            {
              name: KIT_IMAGE_VOLUME,
              image: { reference: settings.envdImage, pullPolicy: "IfNotPresent" },
            },
          ]
        : []),
      // Not owned by the Sandbox: the claim and its data outlive the pod.
      ...claims.map((m, i) => ({
        name: claimVolumeName(i),
        persistentVolumeClaim: { claimName: m.volume },
      })),
    ],
  };
  if (who.gpu?.product) spec.nodeSelector = { [GPU_PRODUCT_LABEL]: who.gpu.product };
  if (who.gpu?.count)
    // GPU nodes are commonly tainted so that only pods asking for GPUs land there.
    spec.tolerations = [{ key: GPU_RESOURCE, operator: "Exists", effect: "NoSchedule" }];
  return spec;
}

/**
 * Root with a small capability set and setuid allowed: `sudo` inside the
 * sandbox needs it, and the isolation boundary is the VM (Kata), not the
 * container.
 */
function sandboxSecurityContext(): V1SecurityContext {
  return {
    runAsUser: 0,
    privileged: false,
    allowPrivilegeEscalation: true,
    capabilities: {
      drop: ["ALL"],
      add: [
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "NET_BIND_SERVICE",
        "AUDIT_WRITE",
        "SYS_CHROOT",
      ],
    },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Requests and limits as strings (the API's quantities), plus the GPU limit. */
function resourcesOf(
  template: SandboxTemplate,
  gpus: number | undefined,
): V1Container["resources"] {
  const toStrings = (m: Record<string, number | string> | undefined) =>
    m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
  const requests = toStrings(template.resources?.requests);
  let limits = toStrings(template.resources?.limits);
  // An extended resource is asked for by its limit; the request defaults to it.
  if (gpus) limits = { ...limits, [GPU_RESOURCE]: String(gpus) };
  if (!requests && !limits) return undefined;
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}
