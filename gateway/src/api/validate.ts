/**
 * Validation of E2B create requests, pure: the body of `POST /sandboxes` (`NewSandbox`) becomes a
 * {@link CreateRequest} or a 400 naming the field to fix. Metadata must be usable as Kubernetes
 * labels (the operator puts it on the pod), which is stricter than E2B; the messages say so.
 */
import type { SandboxNetwork } from "../../../api/gen/crd-types.js";
import { badRequest } from "./errors.js";
import type { MemoryPause } from "../config.js";
import { networkForCreate } from "./network.js";
import { checkTimeoutSeconds } from "./ttl.js";
import { parseVolumeMounts, type ClaimMount, type RequestedMount } from "../volumes/mounts.js";

/** A validated create request. */
export interface CreateRequest {
  templateID: string;
  timeoutSeconds: number;
  metadata: Record<string, string>;
  /** Environment variables for the sandbox; they go to a Secret, never into the Sandbox. */
  envVars: Record<string, string>;
  /** Pause instead of delete at the deadline (E2B `autoPause`). */
  autoPause: boolean;
  /** The first request to the paused sandbox resumes it (E2B `autoResume.enabled`). */
  autoResume: boolean;
  /** E2B's network options as the Sandbox's `spec.network`; undefined: the defaults (see network.ts). */
  network?: SandboxNetwork;
  /** E2B's volumeMounts as requested (volumes by name); create.ts checks them against the team's. */
  requestedMounts?: RequestedMount[];
  /** The checked mounts: the claims and where they go. */
  volumeMounts?: ClaimMount[];
  /**
   * How a timeout pause pauses: `Filesystem` for E2B's `autoPauseMemory: false` (files kept,
   * processes restart on resume); `Memory` when the gateway takes memory pauses as checkpoints
   * (`--memory-pause Memory`); absent: the CRD's default, `Freeze` (memory kept in place).
   */
  pauseMode?: "Filesystem" | "Memory";
  /** Start from this Snapshot (a create whose templateID names a snapshot, or a fork). */
  restoreFrom?: { snapshot: string; templateID: string };
}

/** The timeout limits that apply to a request. */
export interface TimeoutLimits {
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
}

const TEMPLATE_ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const RESERVED = ["soulbox.dev", "kubernetes.io", "k8s.io"];

/** Checks a template id: it names the ConfigMap `soulbox-template-<id>`, so a DNS label of ≤ 46 characters. */
export function checkTemplateId(value: unknown): string {
  if (typeof value !== "string" || value === "")
    throw badRequest('templateID is required (e.g. "base")');
  if (value.length > 46 || !TEMPLATE_ID.test(value))
    throw badRequest(
      `templateID '${value}' is not a template name: use at most 46 lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
  return value;
}

/**
 * Why `key` cannot be a metadata key (a Kubernetes label key outside the reserved prefixes), or
 * undefined when it can.
 */
export function metadataKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const shape =
    "metadata keys must be Kubernetes label keys: an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  if (!LABEL_NAME.test(name)) return `metadata key '${key}' is not valid: ${shape}`;
  if (prefix !== undefined) {
    if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))
      return `metadata key '${key}' is not valid: ${shape}`;
    if (RESERVED.some((r) => prefix === r || prefix.endsWith(`.${r}`)))
      return `metadata key '${key}' is reserved: keys under ${RESERVED.map((r) => `${r}/`).join(", ")} belong to SoulBox and Kubernetes`;
  }
  return undefined;
}

/** Checks sandbox metadata (an object of label keys to label values). */
export function checkMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw badRequest("metadata must be an object of string keys and values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const problem = metadataKeyProblem(k);
    if (problem) throw badRequest(problem);
    if (typeof v !== "string") throw badRequest(`metadata '${k}' must be a string value`);
    if (v.length > 63 || !LABEL_VALUE.test(v))
      throw badRequest(
        `metadata '${k}' value '${v}' is not valid: values must be Kubernetes label values (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`,
      );
    out[k] = v;
  }
  return out;
}

/** Checks environment variables (names as Kubernetes accepts them, string values). */
export function checkEnvVars(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw badRequest("envVars must be an object of names to string values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.length > 256 || !ENV_NAME.test(k))
      throw badRequest(
        `envVars name '${k}' is not valid: use letters, digits, '_', '-' and '.', not starting with a digit`,
      );
    // The value is never echoed: it may be a secret.
    if (typeof v !== "string") throw badRequest(`envVars '${k}' must have a string value`);
    out[k] = v;
  }
  return out;
}

/**
 * Validates a `NewSandbox` body. `limits` gives the default and the maximum timeout; a missing
 * timeout takes the default.
 */
export function parseCreateRequest(
  body: unknown,
  limits: TimeoutLimits & { memoryPause?: MemoryPause },
): CreateRequest {
  if (!isRecord(body)) throw badRequest("the request body must be a JSON object (NewSandbox)");
  const templateID = checkTemplateId(body.templateID);
  const timeoutSeconds =
    body.timeout === undefined || body.timeout === null
      ? limits.defaultTimeoutSeconds
      : checkTimeoutSeconds(body.timeout, "timeout", limits.maxTimeoutSeconds);
  const metadata = checkMetadata(body.metadata);
  const envVars = checkEnvVars(body.envVars);
  const autoPause = optionalBoolean(body.autoPause, "autoPause") ?? false;
  let autoResume = false;
  if (body.autoResume !== undefined && body.autoResume !== null) {
    if (!isRecord(body.autoResume)) throw badRequest("autoResume must be an object {enabled}");
    autoResume = optionalBoolean(body.autoResume.enabled, "autoResume.enabled") ?? false;
  }
  if (autoResume && !autoPause)
    throw badRequest("autoResume needs autoPause: only a sandbox paused at its timeout can resume");
  // E2B's rule: a filesystem-only pause cannot be resumed by traffic, only by connect or resume.
  const filesystemPause = optionalBoolean(body.autoPauseMemory, "autoPauseMemory") === false;
  if (filesystemPause && autoResume)
    throw badRequest(
      "autoResume cannot be combined with autoPauseMemory false: a filesystem-only pause is resumed explicitly (connect or resume)",
    );
  const volumeMounts = parseVolumeMounts(body.volumeMounts);
  optionalBoolean(body.secure, "secure"); // always secure: envd needs its access token
  const network = networkForCreate(body.allow_internet_access, body.network);
  const out: CreateRequest = {
    templateID,
    timeoutSeconds,
    metadata,
    envVars,
    autoPause,
    autoResume,
  };
  if (network) out.network = network;
  if (filesystemPause && autoPause) out.pauseMode = "Filesystem";
  else if (autoPause && limits.memoryPause === "Memory") out.pauseMode = "Memory";
  if (volumeMounts.length > 0) out.requestedMounts = volumeMounts;
  return out;
}

function optionalBoolean(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badRequest(`${field} must be true or false`);
  return v;
}

/** A plain JSON object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
