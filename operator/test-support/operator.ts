import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import {
  SandboxPoolResource,
  SandboxResource,
  SnapshotResource,
  type Sandbox,
  type SandboxSpec,
  type Snapshot,
  type SnapshotSpec,
} from "../../api/gen/crd-types.js";

const KUBECTL = fileURLToPath(new URL("../../e2e/cluster/.bin/kubectl", import.meta.url));
const CRDS = fileURLToPath(new URL("../../crds/", import.meta.url));

/** The images the local node has (e2e/cluster imports them). */
export const IMAGES = {
  envd: "localhost/soulbox/envd:latest",
  base: "localhost/soulbox/sandbox-base:latest",
} as const;

/**
 * Installs the CRDs from crds/ and waits until they are served. They stay: they
 * are cluster-scoped and the same for every test file; the cluster goes away at
 * the end of the run.
 */
export function installCrds(): void {
  retried(() => execFileSync(KUBECTL, ["apply", "-f", CRDS], { env: process.env, stdio: "pipe" }));
  retried(() =>
    execFileSync(
      KUBECTL,
      [
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        `crd/${SandboxResource.plural}.${SandboxResource.group}`,
        `crd/${SandboxPoolResource.plural}.${SandboxPoolResource.group}`,
        `crd/${SnapshotResource.plural}.${SnapshotResource.group}`,
      ],
      { env: process.env, stdio: "pipe" },
    ),
  );
}

/**
 * Why a kubectl call may be asked again: test files in parallel workers apply the CRDs at the
 * same time (the loser of two creates gets AlreadyExists; a second apply updates), and another
 * file may be restarting the shared API server (refused for a few seconds; this runs before a
 * test holds it in use, see e2e/cluster/test-support/api-server-lock.ts).
 */
const PASSING = /AlreadyExists|connection refused|the server is currently unable/;

/** Runs `call` until it succeeds, again each second for up to 90 s while it fails for a PASSING reason. */
function retried(call: () => unknown): void {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      call();
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? "");
      if (!PASSING.test(stderr) || Date.now() > deadline) throw err;
      // A synchronous wait: installCrds is called from sync hooks and scripts.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
}

/** Typed Sandbox calls for tests. */
export function sandboxApi(kc: k8s.KubeConfig, namespace: string) {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = {
    group: SandboxResource.group,
    version: SandboxResource.version,
    plural: SandboxResource.plural,
    namespace,
  };
  return {
    create: (name: string, spec: SandboxSpec, annotations?: Record<string, string>) =>
      custom.createNamespacedCustomObject({
        ...base,
        body: {
          apiVersion: SandboxResource.apiVersion,
          kind: SandboxResource.kind,
          metadata: { name, annotations },
          spec,
        },
      }) as Promise<Sandbox>,
    get: (name: string) => custom.getNamespacedCustomObject({ ...base, name }) as Promise<Sandbox>,
    getOrUndefined: (name: string) =>
      (custom.getNamespacedCustomObject({ ...base, name }) as Promise<Sandbox>).catch(
        (err: unknown) => {
          if ((err as { code?: number }).code === 404) return undefined;
          throw err;
        },
      ),
    patch: (name: string, patch: object) =>
      custom.patchNamespacedCustomObject(
        { ...base, name, body: patch },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ) as Promise<Sandbox>,
    delete: (name: string) => custom.deleteNamespacedCustomObject({ ...base, name }),
    list: async () =>
      ((await custom.listNamespacedCustomObject(base)) as { items: Sandbox[] }).items,
  };
}

/** A condition of a sandbox's status, by type. */
export const conditionOf = (sb: Sandbox | undefined, type: string) =>
  sb?.status?.conditions?.find((c) => c.type === type);

/** Typed Snapshot calls for tests. */
export function snapshotApi(kc: k8s.KubeConfig, namespace: string) {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = {
    group: SnapshotResource.group,
    version: SnapshotResource.version,
    plural: SnapshotResource.plural,
    namespace,
  };
  return {
    create: (name: string, spec: SnapshotSpec) =>
      custom.createNamespacedCustomObject({
        ...base,
        body: {
          apiVersion: SnapshotResource.apiVersion,
          kind: SnapshotResource.kind,
          metadata: { name },
          spec,
        },
      }) as Promise<Snapshot>,
    get: (name: string) => custom.getNamespacedCustomObject({ ...base, name }) as Promise<Snapshot>,
    getOrUndefined: (name: string) =>
      (custom.getNamespacedCustomObject({ ...base, name }) as Promise<Snapshot>).catch(
        (err: unknown) => {
          if ((err as { code?: number }).code === 404) return undefined;
          throw err;
        },
      ),
    delete: (name: string) => custom.deleteNamespacedCustomObject({ ...base, name }),
    list: async () =>
      ((await custom.listNamespacedCustomObject(base)) as { items: Snapshot[] }).items,
  };
}
