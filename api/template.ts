/**
 * Where a sandbox's container comes from. A template named by `templateRef`
 * lives in a ConfigMap the API server never validated against the Sandbox
 * schema, so it is checked here with the same rules and messages a person
 * can act on; an inline template is checked again too, so a stale CRD can
 * never slip a malformed pod spec past the operator.
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import { parse } from "yaml";
import type { Sandbox, SandboxTemplate, SandboxTemplateEnv, Snapshot } from "./gen/crd-types.js";
import { compareQuantities, parseQuantity, type Quantity } from "./quantity.js";

/** The ConfigMap key that holds a template (YAML or JSON). */
export const TEMPLATE_KEY = "template";

/** Why a template cannot be used; the value of the `Ready` condition's reason. */
export type TemplateErrorReason =
  | "TemplateNotFound"
  | "TemplateInvalid"
  /** `spec.restoreFrom` names a Snapshot that does not exist. */
  | "SnapshotNotFound"
  /** `spec.restoreFrom` names a Snapshot that is still being taken (the sandbox waits). */
  | "SnapshotNotReady"
  /** `spec.restoreFrom` names a Snapshot that failed. */
  | "SnapshotFailed";

/**
 * The sandbox cannot start from what its spec names. Not worth a quick retry:
 * the reconciler reports it in a condition and looks again later (a missing
 * ConfigMap may yet be created).
 */
export class TemplateError extends Error {
  override name = "TemplateError";
  constructor(
    readonly reason: TemplateErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The template a sandbox runs: `spec.template`, or the one in the ConfigMap
 * `spec.templateRef` names (`configMap` is that ConfigMap as read, undefined
 * when it does not exist). Returns a validated copy holding only known fields.
 * With `spec.restoreFrom`, the template the Snapshot recorded (`snapshot` is that Snapshot as
 * read, undefined when it does not exist).
 * Throws {@link TemplateError}: `TemplateNotFound` when the ConfigMap is missing,
 * `TemplateInvalid` for anything malformed, `SnapshotNotFound`, `SnapshotNotReady` or
 * `SnapshotFailed` for a restore whose Snapshot cannot be used (yet).
 */
export function resolveTemplate(
  sb: Sandbox,
  configMap: V1ConfigMap | undefined,
  snapshot?: Snapshot,
): SandboxTemplate {
  const spec = sb.spec;
  if (spec.restoreFrom !== undefined) return templateFromSnapshot(spec.restoreFrom, sb, snapshot);
  if (spec.template !== undefined) return validateTemplate(spec.template, "spec.template");
  if (spec.templateRef === undefined)
    throw new TemplateError(
      "TemplateInvalid",
      "the Sandbox names no template: set spec.template (an image to run) or spec.templateRef (a template ConfigMap)",
    );

  return templateFromConfigMap(
    spec.templateRef,
    sb.metadata.namespace ?? "the sandbox's namespace",
    configMap,
  );
}

/** The template a Snapshot recorded, for `spec.restoreFrom: name`. */
function templateFromSnapshot(
  name: string,
  sb: Sandbox,
  snapshot: Snapshot | undefined,
): SandboxTemplate {
  const where = sb.metadata.namespace ?? "the sandbox's namespace";
  if (!snapshot)
    throw new TemplateError(
      "SnapshotNotFound",
      `spec.restoreFrom: Snapshot "${name}" does not exist in namespace ${where}`,
    );
  const phase = snapshot.status?.phase;
  if (phase === "Failed")
    throw new TemplateError(
      "SnapshotFailed",
      `spec.restoreFrom: Snapshot "${name}" failed and holds nothing to restore (see its conditions)`,
    );
  if (phase !== "Ready" || snapshot.status?.template === undefined)
    throw new TemplateError(
      "SnapshotNotReady",
      `spec.restoreFrom: Snapshot "${name}" is not Ready yet (phase ${phase ?? "Pending"}); the sandbox starts when it is`,
    );
  return validateTemplate(snapshot.status.template, `Snapshot ${name} status.template`);
}

/**
 * The template in the ConfigMap `ref` of `namespace` (`configMap` as read, undefined when it
 * does not exist), validated. Throws {@link TemplateError} as {@link resolveTemplate} does.
 */
export function templateFromConfigMap(
  ref: string,
  namespace: string,
  configMap: V1ConfigMap | undefined,
): SandboxTemplate {
  if (!configMap)
    throw new TemplateError(
      "TemplateNotFound",
      `template ConfigMap "${ref}" does not exist in namespace ${namespace}: create it with the template under the key "${TEMPLATE_KEY}"`,
    );
  const where = `ConfigMap "${ref}" key "${TEMPLATE_KEY}"`;
  const text = configMap.data?.[TEMPLATE_KEY];
  if (text === undefined)
    throw new TemplateError(
      "TemplateInvalid",
      `ConfigMap "${ref}" has no key "${TEMPLATE_KEY}": put the template there as YAML or JSON (keys: ${KNOWN_KEYS.join(", ")})`,
    );
  let doc: unknown;
  try {
    // YAML 1.2 (a superset of JSON): `yes` stays a string, duplicate keys are errors.
    doc = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    const detail =
      err instanceof Error ? (err.message.split("\n")[0] ?? "").replace(/:$/, "") : String(err);
    throw new TemplateError("TemplateInvalid", `${where} is not valid YAML or JSON: ${detail}`, {
      cause: err,
    });
  }
  return validateTemplate(doc, where);
}

const KNOWN_KEYS = ["image", "command", "args", "env", "resources", "runtimeClassName"] as const;

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESOURCE_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Checks an untrusted value against the template schema (the limits are the
 * CRD's) and returns a clean copy. `where` prefixes every message.
 */
export function validateTemplate(value: unknown, where: string): SandboxTemplate {
  const fail: Fail = (message) => {
    throw new TemplateError("TemplateInvalid", `${where}: ${message}`);
  };
  if (!isRecord(value))
    return fail(
      value === null || value === undefined
        ? "is empty: a template needs at least an image"
        : `must be a mapping with keys such as image and command, not ${describe(value)}`,
    );
  const unknown = Object.keys(value).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0)
    fail(
      `unknown key ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${KNOWN_KEYS.join(", ")})`,
    );

  const image = value.image;
  if (image === undefined || image === null || image === "")
    fail("image is required (e.g. registry.example/library/python:3.12)");
  if (typeof image !== "string") return fail(`image must be a string, not ${describe(image)}`);
  if (image.length > 1024) fail("image is longer than 1024 characters");
  if (/\s/.test(image)) fail(`image "${image}" must not contain spaces`);

  const out: SandboxTemplate = { image };
  const command = stringList(value.command, "command", 64, fail);
  if (command) out.command = command;
  const args = stringList(value.args, "args", 256, fail);
  if (args) out.args = args;
  const env = envList(value.env, fail);
  if (env) out.env = env;
  const resources = resourcesOf(value.resources, fail);
  if (resources) out.resources = resources;

  const rc = value.runtimeClassName;
  if (rc !== undefined && rc !== null) {
    if (typeof rc !== "string") fail(`runtimeClassName must be a string, not ${describe(rc)}`);
    else if (rc.length > 253 || !DNS_SUBDOMAIN.test(rc))
      fail(
        `runtimeClassName "${rc}" is not a RuntimeClass name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
      );
    else out.runtimeClassName = rc;
  }
  return out;
}

type Fail = (message: string) => never;

function stringList(v: unknown, field: string, max: number, fail: Fail): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return fail(`${field} must be a list of strings, not ${describe(v)}`);
  if (v.length > max) fail(`${field} has ${v.length} items; at most ${max} are allowed`);
  return v.map((item: unknown, i) => {
    if (typeof item !== "string")
      return fail(`${field}[${i}] must be a string, not ${describe(item)} (quote it)`);
    if (item.length > 4096) fail(`${field}[${i}] is longer than 4096 characters`);
    return item;
  });
}

function envList(v: unknown, fail: Fail): SandboxTemplateEnv[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v))
    return fail(`env must be a list of {name, value} entries, not ${describe(v)}`);
  if (v.length > 256) fail(`env has ${v.length} entries; at most 256 are allowed`);
  const seen = new Set<string>();
  return v.map((entry: unknown, i) => {
    if (!isRecord(entry)) return fail(`env[${i}] must be a {name, value} entry`);
    const extra = Object.keys(entry).filter((k) => k !== "name" && k !== "value");
    if (extra.length > 0)
      fail(
        `env[${i}] has unknown key ${extra.map((k) => `"${k}"`).join(", ")}: only name and value (secrets belong in spec.envFrom)`,
      );
    const { name, value } = entry;
    if (typeof name !== "string" || name === "") return fail(`env[${i}] needs a name`);
    if (name.length > 256 || !ENV_NAME.test(name))
      fail(
        `environment variable name "${name}" is not valid: use letters, digits, '_', '-' and '.', not starting with a digit`,
      );
    if (seen.has(name)) fail(`environment variable "${name}" is set twice`);
    seen.add(name);
    if (value === undefined || value === null) return { name };
    if (typeof value !== "string")
      return fail(`env ${name}: value must be a string, not ${describe(value)} (quote it)`);
    if (value.length > 32768) fail(`env ${name}: value is longer than 32768 characters`);
    return { name, value };
  });
}

function resourcesOf(v: unknown, fail: Fail): SandboxTemplate["resources"] {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return fail(`resources must be a mapping with requests and limits`);
  const extra = Object.keys(v).filter((k) => k !== "requests" && k !== "limits");
  if (extra.length > 0)
    fail(
      `resources has unknown key ${extra.map((k) => `"${k}"`).join(", ")}: only requests and limits`,
    );
  const requests = quantityMap(v.requests, "requests", fail);
  const limits = quantityMap(v.limits, "limits", fail);
  for (const [name, req] of requests ?? []) {
    const lim = limits?.get(name);
    if (lim && compareQuantities(lim.q, req.q) < 0)
      fail(`resources: the limit of ${name} (${lim.text}) is below its request (${req.text})`);
  }
  const out: NonNullable<SandboxTemplate["resources"]> = {};
  if (requests) out.requests = Object.fromEntries([...requests].map(([k, x]) => [k, x.text]));
  if (limits) out.limits = Object.fromEntries([...limits].map(([k, x]) => [k, x.text]));
  return out;
}

function quantityMap(
  v: unknown,
  field: string,
  fail: Fail,
): Map<string, { text: string | number; q: Quantity }> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v))
    return fail(`resources.${field} must map resource names to quantities (e.g. cpu: 500m)`);
  const entries = Object.entries(v);
  if (entries.length > 16) fail(`resources.${field} has ${entries.length} entries; at most 16`);
  const out = new Map<string, { text: string | number; q: Quantity }>();
  for (const [name, text] of entries) {
    if (name.endsWith("/gpu"))
      fail(
        `resources.${field}.${name}: ask for GPUs with spec.gpu, not template.resources: the operator allocates them`,
      );
    if (name.length > 253 || !RESOURCE_NAME.test(name))
      fail(
        `resources.${field}: "${name}" is not a resource name (e.g. cpu, memory, ephemeral-storage)`,
      );
    const q =
      typeof text === "string" || typeof text === "number" ? parseQuantity(text) : undefined;
    if (!q)
      return fail(
        `resources.${field}.${name}: ${JSON.stringify(text) ?? "nothing"} is not a quantity (e.g. 500m, 2, 512Mi, 1Gi)`,
      );
    if (q.num < 0n) fail(`resources.${field}.${name}: ${String(text)} must not be negative`);
    out.set(name, { text: text as string | number, q });
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a value is, in words, for messages. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string")
    return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}
