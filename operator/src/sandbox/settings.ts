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
  /**
   * How the sandbox container gets the executor kit: `image` mounts it read-only from the envd
   * image (a Kubernetes image volume: nothing copied, one copy per node in the image store);
   * `copy` has envd's entrypoint copy it into the pod's shared emptyDir (any cluster; about
   * 130 MB written per pod). Default `copy`.
   */
  kitVolume?: KitVolume;
}

/** See {@link SandboxPodSettings.kitVolume}. */
export type KitVolume = "image" | "copy";

/** The values `--kit-volume` takes. */
export const KIT_VOLUMES: readonly KitVolume[] = ["image", "copy"];
