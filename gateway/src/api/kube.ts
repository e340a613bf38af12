/**
 * The Kubernetes calls the REST API makes, typed, under one field manager. Reads of sandboxes go
 * to the SandboxIndex cache; these are the writes and the few reads the cache does not hold
 * (template ConfigMaps, token Secrets, pod logs).
 */
import * as k8s from "@kubernetes/client-node";
import { SandboxResource, type Sandbox } from "../../../api/gen/crd-types.js";
import { customObjectRef } from "../../../lib/custom-resource.js";

/** The field manager of every gateway write. */
export const FIELD_MANAGER = "soulbox-gateway";

/** The typed calls. */
export interface KubeCalls {
  createSandbox(namespace: string, body: Sandbox): Promise<Sandbox>;
  /** Merge patch on a Sandbox (spec, annotations). */
  patchSandbox(namespace: string, name: string, patch: object): Promise<Sandbox>;
  /** Deletes a Sandbox; false when it was not there. */
  deleteSandbox(namespace: string, name: string): Promise<boolean>;
  readConfigMap(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined>;
  /** The ConfigMaps of a namespace that match a label selector. */
  listConfigMaps(namespace: string, labelSelector: string): Promise<k8s.V1ConfigMap[]>;
  readSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined>;
  createSecret(namespace: string, body: k8s.V1Secret): Promise<k8s.V1Secret>;
  patchSecret(namespace: string, name: string, patch: object): Promise<k8s.V1Secret>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  podLog(namespace: string, pod: string, container: string): Promise<string>;
}

/** The HTTP status of a failed Kubernetes call, when it has one. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The API server's message of a failed call (its Status body), when there is one. */
export function messageOf(err: unknown): string | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  try {
    const parsed: unknown = typeof body === "string" ? JSON.parse(body) : body;
    const m = (parsed as { message?: unknown } | null)?.message;
    return typeof m === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

const orUndefinedOn404 = async <T>(p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
};

const MERGE = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** The calls against `kc`. */
export function createKubeCalls(kc: k8s.KubeConfig): KubeCalls {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const base = customObjectRef(SandboxResource);
  return {
    createSandbox: (namespace, body) =>
      custom.createNamespacedCustomObject({
        ...base,
        namespace,
        body,
        fieldManager: FIELD_MANAGER,
      }) as Promise<Sandbox>,
    patchSandbox: (namespace, name, patch) =>
      custom.patchNamespacedCustomObject(
        { ...base, namespace, name, body: patch, fieldManager: FIELD_MANAGER },
        MERGE,
      ) as Promise<Sandbox>,
    async deleteSandbox(namespace, name) {
      const r = await orUndefinedOn404(
        custom.deleteNamespacedCustomObject({
          ...base,
          namespace,
          name,
          propagationPolicy: "Background",
        }) as Promise<unknown>,
      );
      return r !== undefined;
    },
    readConfigMap: (namespace, name) =>
      orUndefinedOn404(core.readNamespacedConfigMap({ namespace, name })),
    listConfigMaps: async (namespace, labelSelector) =>
      (await core.listNamespacedConfigMap({ namespace, labelSelector })).items,
    readSecret: (namespace, name) =>
      orUndefinedOn404(core.readNamespacedSecret({ namespace, name })),
    createSecret: (namespace, body) =>
      core.createNamespacedSecret({ namespace, body, fieldManager: FIELD_MANAGER }),
    patchSecret: (namespace, name, patch) =>
      core.patchNamespacedSecret(
        { namespace, name, body: patch, fieldManager: FIELD_MANAGER },
        MERGE,
      ),
    async deleteSecret(namespace, name) {
      await orUndefinedOn404(core.deleteNamespacedSecret({ namespace, name }));
    },
    podLog: (namespace, name, container) =>
      core.readNamespacedPodLog({
        namespace,
        name,
        container,
        timestamps: true,
        // A sandbox may print a lot; the newest 8 MiB are plenty for an API answer.
        limitBytes: 8 << 20,
      }),
  };
}
