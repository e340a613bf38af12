/**
 * Sandbox objects as E2B's REST API shows them (the schemas `Sandbox`, `ListedSandbox`,
 * `SandboxDetail`, `SandboxMetric`), pure. Field names are the OpenAPI ones the SDK reads.
 */
import type { SandboxMetrics } from "../../../api/envd.js";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { parseQuantity, type Quantity } from "../../../api/quantity.js";
import { e2bNetworkOf, type E2bNetwork } from "./network.js";
import type { SandboxTemplate } from "../../../api/gen/crd-types.js";
import { Annotation } from "../../../api/labels.js";
import {
  ENVD_VERSION,
  autoResumes,
  e2bState,
  expiresAt,
  type E2bState,
} from "../sandboxes/sandbox-state.js";

/** `clientID` of every sandbox: E2B names the node-side client; SoulBox has one kind. */
export const CLIENT_ID = "soulbox";
/** The ConfigMap a template id names. */
export const TEMPLATE_CONFIGMAP_PREFIX = "soulbox-template-";
/** Label on template ConfigMaps: the E2B template id. */
export const TEMPLATE_LABEL = "soulbox.dev/template";
/** Annotation with the sandbox's size as the template gave it (JSON {@link SandboxSize}). */
export const ANNOTATION_SIZE = "soulbox.dev/size";

/** What E2B reports as a sandbox's size. 0 memory or disk: the template sets no limit. */
export interface SandboxSize {
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
}

/** E2B `Sandbox` (create, resume and connect answers). */
export interface E2bSandbox {
  sandboxID: string;
  templateID: string;
  alias: string;
  clientID: string;
  envdVersion: string;
  envdAccessToken: string;
  domain: string;
  /** Set for a sandbox whose ports need it (`network.allowPublicTraffic: false`), see network.ts. */
  trafficAccessToken: string | null;
}

/** E2B `ListedSandbox`. */
export interface E2bListedSandbox {
  sandboxID: string;
  templateID: string;
  alias: string;
  clientID: string;
  startedAt: string;
  endAt: string;
  state: E2bState;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  metadata: Record<string, string>;
  envdVersion: string;
}

/** E2B `SandboxDetail`. */
export interface E2bSandboxDetail extends E2bListedSandbox {
  envdAccessToken: string;
  domain: string;
  lifecycle: { onTimeout: "kill" | "pause"; autoResume: boolean };
  allowInternetAccess?: false;
  network?: E2bNetwork;
}

/** E2B `SandboxMetric`. */
export interface E2bMetric {
  timestamp: string;
  timestampUnix: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
}

/** envd's `GET /metrics` answer: the shape envd's OS layer reports. */
export type EnvdMetrics = SandboxMetrics;

/**
 * The E2B template id of a sandbox, from its `templateRef`; a sandbox started from a snapshot
 * reports the template of the sandbox the snapshot was taken of.
 */
export function templateIdOf(s: Sandbox): string {
  if (!s.spec.templateRef && s.spec.restoreFrom)
    return s.metadata.annotations?.[Annotation.templateId] ?? s.spec.restoreFrom;
  const ref = s.spec.templateRef ?? "";
  return ref.startsWith(TEMPLATE_CONFIGMAP_PREFIX)
    ? ref.slice(TEMPLATE_CONFIGMAP_PREFIX.length)
    : ref;
}

/** When the sandbox started: first Ready, else when it was created. */
export function startedAtMs(s: Sandbox): number {
  const t = Date.parse(s.status?.startedAt ?? s.metadata.creationTimestamp?.toString() ?? "");
  return Number.isNaN(t) ? 0 : t;
}

/** The size of a sandbox from its template (limits first, then requests). */
export function sizeOfTemplate(t: SandboxTemplate): SandboxSize {
  const pick = (name: string): Quantity | undefined => {
    const v = t.resources?.limits?.[name] ?? t.resources?.requests?.[name];
    return v === undefined ? undefined : parseQuantity(v);
  };
  const cpu = pick("cpu");
  const mem = pick("memory");
  const disk = pick("ephemeral-storage");
  const mib = (q: Quantity | undefined) => (q ? Number(q.num / (q.den * 1048576n)) : 0);
  return {
    cpuCount: cpu ? Math.max(1, Math.ceil(Number(cpu.num) / Number(cpu.den))) : 1,
    memoryMB: mib(mem),
    diskSizeMB: mib(disk),
  };
}

/** The size recorded on a sandbox at creation; defaults for one made by hand. */
export function sizeOf(s: Sandbox): SandboxSize {
  const raw = s.metadata.annotations?.[ANNOTATION_SIZE];
  try {
    const v = JSON.parse(raw ?? "") as Partial<SandboxSize>;
    return {
      cpuCount: Number(v.cpuCount) || 1,
      memoryMB: Number(v.memoryMB) || 0,
      diskSizeMB: Number(v.diskSizeMB) || 0,
    };
  } catch {
    return { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 };
  }
}

/** E2B `Sandbox`, the answer of create, resume and connect. */
export function toE2bSandbox(s: Sandbox, token: string, domain: string): E2bSandbox {
  const templateID = templateIdOf(s);
  return {
    sandboxID: s.metadata.name ?? "",
    templateID,
    alias: templateID,
    clientID: CLIENT_ID,
    envdVersion: ENVD_VERSION,
    envdAccessToken: token,
    domain,
    trafficAccessToken: null,
  };
}

/** E2B `ListedSandbox`. */
export function toListedSandbox(s: Sandbox): E2bListedSandbox {
  const started = startedAtMs(s);
  const end = expiresAt(s)?.getTime() ?? started;
  const templateID = templateIdOf(s);
  return {
    sandboxID: s.metadata.name ?? "",
    templateID,
    alias: templateID,
    clientID: CLIENT_ID,
    startedAt: new Date(started).toISOString(),
    endAt: new Date(end).toISOString(),
    state: e2bState(s),
    ...sizeOf(s),
    metadata: { ...(s.spec.metadata ?? {}) },
    envdVersion: ENVD_VERSION,
  };
}

/** E2B `SandboxDetail`. */
export function toSandboxDetail(s: Sandbox, token: string, domain: string): E2bSandboxDetail {
  return {
    ...toListedSandbox(s),
    envdAccessToken: token,
    domain,
    lifecycle: {
      onTimeout: s.spec.onTimeout === "Pause" ? "pause" : "kill",
      autoResume: autoResumes(s),
    },
    ...e2bNetworkOf(s.spec.network),
  };
}

/** envd's metrics sample as an E2B `SandboxMetric`. */
export function toE2bMetric(m: EnvdMetrics): E2bMetric {
  const ts = Number.isFinite(m.ts) ? m.ts : Math.floor(Date.now() / 1000);
  return {
    timestamp: new Date(ts * 1000).toISOString(),
    timestampUnix: ts,
    cpuCount: m.cpu_count,
    cpuUsedPct: m.cpu_used_pct,
    memUsed: m.mem_used,
    memTotal: m.mem_total,
    memCache: 0,
    diskUsed: m.disk_used,
    diskTotal: m.disk_total,
  };
}

/** True when every pair of `filter` is in the sandbox's metadata. */
export function matchesMetadata(s: Sandbox, filter: Record<string, string>): boolean {
  const md = s.spec.metadata ?? {};
  return Object.entries(filter).every(([k, v]) => md[k] === v);
}
