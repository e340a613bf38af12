/**
 * Runs the local cluster's helm against this chart, for the chart's tests. Rendering needs no
 * cluster: the Kubernetes version is given (`--kube-version`) because a helm built from source
 * otherwise assumes an old one and the chart's kubeVersion constraint refuses it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** The helm binary that e2e/cluster builds. */
export const HELM = fileURLToPath(new URL("../../e2e/cluster/.bin/helm", import.meta.url));
/** This chart's folder. */
export const CHART = fileURLToPath(new URL("./", import.meta.url));
/** The Kubernetes version the local cluster runs, and the one templates are rendered for. */
export const KUBE_VERSION = "1.34.4";

/** A rendered Kubernetes object, loosely typed: tests narrow it with {@link ofKind}. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Runs helm; returns its exit status and output, never throws on a non-zero exit. */
export function helm(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { status: number; stdout: string; stderr: string } {
  if (!existsSync(HELM))
    throw new Error(`${HELM} is missing: build it with \`e2e/cluster/cluster build\``);
  const r = spawnSync(HELM, args, { env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs helm and throws with its output when it fails. */
export function helmOk(args: string[], env?: NodeJS.ProcessEnv): string {
  const r = helm(args, env);
  if (r.status !== 0)
    throw new Error(`helm ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Parses a multi-document YAML stream (helm's output) into objects, throwing on YAML errors. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`bad YAML from helm: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/**
 * `helm template` of this chart as release `release` in namespace `namespace`, with `--set`
 * pairs and extra arguments; returns the parsed objects.
 */
export function render(
  sets: string[] = [],
  extra: string[] = [],
  release = "demo",
  namespace = "soulbox-system",
): K8sObject[] {
  const args = ["template", release, CHART, "--namespace", namespace];
  args.push("--kube-version", KUBE_VERSION, ...sets.flatMap((s) => ["--set", s]), ...extra);
  return parseObjects(helmOk(args));
}

/** The objects of one kind, typed as the caller says they are. */
export function ofKind<T>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

/** The single object of a kind; throws when there are none or several. */
export function single<T>(objects: K8sObject[], kind: string): T {
  const found = ofKind<T>(objects, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as T;
}
