/**
 * The sandbox pod contract (see the design: one pod per sandbox, envd as a native sidecar, the
 * executor injected as the template container's PID 1) as the operator writes it: its own pure
 * `desiredPod` of a Sandbox, so the node tests and the node benchmark run the very pod the
 * operator produces, not a copy of it.
 */
import type * as k8s from "@kubernetes/client-node";
import { ENVD_PORT } from "../../../api/envd.js";
import { resolveTemplate } from "../../../api/template.js";
import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import { desiredPod } from "../../../operator/src/sandbox/desired-pod.js";
import type { SandboxPodSettings } from "../../../operator/src/sandbox/settings.js";

export { ENVD_PORT };

/** The envd sidecar image (built and imported by `cluster up --with-node`). */
export const ENVD_IMAGE = "localhost/soulbox/envd:latest";

/** The operator's settings as the local cluster's chart gives them: its envd image, `kata`. */
export const CONTRACT_SETTINGS: SandboxPodSettings = {
  envdImage: ENVD_IMAGE,
  defaultRuntimeClassName: "kata",
};

/**
 * The operator's pod for a Sandbox `name` whose inline template runs `image` with `command`
 * (after the executor's `--`): envd sidecar with the token from the Secret
 * `tokenSecretName(name)`, the template image running the injected executor. What ties it to a
 * Sandbox object goes, since there is none here (the garbage collector deletes a pod whose owner
 * is missing): the owner reference, and the namespace (the pod goes where the caller creates it).
 */
export function contractPod(name: string, image: string, command: string[] = []): k8s.V1Pod {
  const sandbox = sandboxFixture({
    metadata: { name, namespace: "contract", uid: `contract-${name}` },
    spec: { template: { image, ...(command.length > 0 ? { command } : {}) } },
  });
  const pod = desiredPod(sandbox, resolveTemplate(sandbox, undefined), CONTRACT_SETTINGS);
  const metadata = { ...pod.metadata };
  delete metadata.ownerReferences;
  delete metadata.namespace;
  return { ...pod, metadata };
}
