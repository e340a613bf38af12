/**
 * What the operator's configuration contributes to every sandbox pod. It is
 * kept apart from the Sandbox so the pure functions stay testable without a
 * running operator, and so an upgrade of the envd image is one setting.
 */

/** Operator-wide inputs to {@link desiredPod}. */
export interface SandboxPodSettings {
  /** The envd sidecar image (e.g. `localhost/soulbox/envd:latest`); it carries the executor kit. */
  envdImage: string;
  /** The RuntimeClass of sandboxes whose template names none (`kata` in production). */
  defaultRuntimeClassName: string;
}
