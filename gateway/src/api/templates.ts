/**
 * E2B's template read paths (`GET /templates`, `GET /templates/{id}`, `GET /templates/aliases/{alias}`)
 * over SoulBox templates: the ConfigMaps `soulbox-template-<name>` of the team namespace (the chart's
 * gateway.templates). A template has one "build", the ConfigMap itself: its uid is the build id,
 * always `ready` unless the operator could not read it. Spawn counts are what the sandbox cache
 * holds now (sandboxes that still exist), not an all-time count.
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import { SandboxResource, type Sandbox } from "../../../api/gen/crd-types.js";
import { ENVD_VERSION } from "../../../api/envd.js";
import { resolveTemplate } from "../../../api/template.js";
import type { ApiContext } from "./context.js";
import {
  TEMPLATE_CONFIGMAP_PREFIX,
  TEMPLATE_LABEL,
  sizeOfTemplate,
  startedAtMs,
  templateIdOf,
  type SandboxSize,
} from "./e2b-json.js";
import { ApiError, badRequest } from "./errors.js";

/** E2B `TemplateBuildStatus` (SoulBox templates are `ready` or, when unreadable, `error`). */
export type E2bBuildStatus = "ready" | "error";

/** E2B `Template` (the list entries). */
export interface E2bTemplate extends SandboxSize {
  templateID: string;
  buildID: string;
  public: boolean;
  aliases: string[];
  names: string[];
  createdAt: string;
  updatedAt: string;
  createdBy: null;
  lastSpawnedAt: string | null;
  spawnCount: number;
  buildCount: number;
  envdVersion: string;
  buildStatus: E2bBuildStatus;
}

/** E2B `TemplateWithBuilds` (one template). */
export interface E2bTemplateWithBuilds {
  templateID: string;
  public: boolean;
  aliases: string[];
  names: string[];
  createdAt: string;
  updatedAt: string;
  lastSpawnedAt: string | null;
  spawnCount: number;
  builds: (SandboxSize & {
    buildID: string;
    status: E2bBuildStatus;
    createdAt: string;
    updatedAt: string;
    finishedAt: string;
    envdVersion: string;
  })[];
}

/** What the cached sandboxes say about one template's use. */
export interface TemplateUse {
  spawnCount: number;
  lastSpawnedAt: string | null;
}

/** The E2B template id of a template ConfigMap (its label, else its name without the prefix). */
export function templateIdOfConfigMap(cm: V1ConfigMap): string {
  const label = cm.metadata?.labels?.[TEMPLATE_LABEL];
  if (label) return label;
  const name = cm.metadata?.name ?? "";
  return name.startsWith(TEMPLATE_CONFIGMAP_PREFIX)
    ? name.slice(TEMPLATE_CONFIGMAP_PREFIX.length)
    : name;
}

/** How often each template was used, by the sandboxes of one team the cache holds. Pure. */
export function templateUse(sandboxes: readonly Sandbox[]): Map<string, TemplateUse> {
  const out = new Map<string, { spawnCount: number; last: number }>();
  for (const s of sandboxes) {
    const id = templateIdOf(s);
    const u = out.get(id) ?? { spawnCount: 0, last: 0 };
    u.spawnCount++;
    u.last = Math.max(u.last, startedAtMs(s));
    out.set(id, u);
  }
  return new Map(
    [...out].map(([id, u]) => [
      id,
      {
        spawnCount: u.spawnCount,
        lastSpawnedAt: u.last > 0 ? new Date(u.last).toISOString() : null,
      },
    ]),
  );
}

/** A template ConfigMap as E2B's `Template`. Pure. */
export function toE2bTemplate(cm: V1ConfigMap, use: TemplateUse | undefined): E2bTemplate {
  const templateID = templateIdOfConfigMap(cm);
  const created = isoOf(cm.metadata?.creationTimestamp);
  const { size, status } = sizeAndStatus(cm);
  return {
    templateID,
    buildID: cm.metadata?.uid ?? "",
    ...size,
    public: false,
    aliases: [templateID],
    names: [templateID],
    createdAt: created,
    updatedAt: created,
    createdBy: null,
    lastSpawnedAt: use?.lastSpawnedAt ?? null,
    spawnCount: use?.spawnCount ?? 0,
    buildCount: 1,
    envdVersion: ENVD_VERSION,
    buildStatus: status,
  };
}

/** A template ConfigMap as E2B's `TemplateWithBuilds` (its one build). Pure. */
export function toE2bTemplateWithBuilds(
  cm: V1ConfigMap,
  use: TemplateUse | undefined,
): E2bTemplateWithBuilds {
  const t = toE2bTemplate(cm, use);
  return {
    templateID: t.templateID,
    public: t.public,
    aliases: t.aliases,
    names: t.names,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    lastSpawnedAt: t.lastSpawnedAt,
    spawnCount: t.spawnCount,
    builds: [
      {
        buildID: t.buildID,
        status: t.buildStatus,
        createdAt: t.createdAt,
        updatedAt: t.updatedAt,
        finishedAt: t.createdAt,
        cpuCount: t.cpuCount,
        memoryMB: t.memoryMB,
        diskSizeMB: t.diskSizeMB,
        envdVersion: t.envdVersion,
      },
    ],
  };
}

/** A parsed E2B template name `[namespace/]alias[:tag]` (lower-cased and trimmed, as E2B does). */
export interface TemplateName {
  namespace?: string;
  alias: string;
  /** Undefined for no tag or the `default` tag. */
  tag?: string;
}

const IDENTIFIER = /^[a-z0-9-_]+$/;
const TAG = /^[a-z0-9-_.]+$/;

/**
 * Parses a template name as E2B's API does; throws a 400 with E2B's message
 * (`Invalid alias format: invalid <part>: <value>`) when a part has other characters.
 */
export function parseTemplateName(input: string): TemplateName {
  const clean = (value: string, what: string, re: RegExp): string => {
    const v = value.trim().toLowerCase();
    if (!re.test(v)) throw badRequest(`Invalid alias format: invalid ${what}: ${value}`);
    return v;
  };
  const trimmed = input.trim();
  const colon = trimmed.indexOf(":");
  const idPart = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const out: TemplateName = { alias: "" };
  if (colon >= 0) {
    const tag = clean(trimmed.slice(colon + 1), "tag", TAG);
    if (tag !== "default") out.tag = tag;
  }
  const slash = idPart.indexOf("/");
  if (slash >= 0) out.namespace = clean(idPart.slice(0, slash), "namespace", IDENTIFIER);
  out.alias = clean(slash < 0 ? idPart : idPart.slice(slash + 1), "template ID", IDENTIFIER);
  return out;
}

/** The template ConfigMaps of a team, by template id. */
async function teamTemplates(ctx: ApiContext, team: string): Promise<V1ConfigMap[]> {
  const items = await ctx.kube.listConfigMaps(team, TEMPLATE_LABEL);
  return items
    .filter((cm) => (cm.metadata?.name ?? "").startsWith(TEMPLATE_CONFIGMAP_PREFIX))
    .sort((a, b) => templateIdOfConfigMap(a).localeCompare(templateIdOfConfigMap(b)));
}

/** `GET /templates`: the team's templates. */
export async function listTemplates(ctx: ApiContext, team: string): Promise<E2bTemplate[]> {
  const use = templateUse(ctx.index.list(team));
  return (await teamTemplates(ctx, team)).map((cm) =>
    toE2bTemplate(cm, use.get(templateIdOfConfigMap(cm))),
  );
}

/** `GET /templates/{id}`: one template and its build; 404 `Template <id> not found`. */
export async function getTemplate(
  ctx: ApiContext,
  team: string,
  id: string,
): Promise<E2bTemplateWithBuilds> {
  const cm = await templateConfigMap(ctx, team, id);
  if (!cm) throw new ApiError(404, `Template ${id} not found`);
  return toE2bTemplateWithBuilds(cm, templateUse(ctx.index.list(team)).get(id));
}

/**
 * `GET /templates/aliases/{alias}`: whether the team has the template, with E2B's answers: 400 for
 * a malformed name or another team's namespace, 404 `template '<alias>' not found`, 404 for a tag
 * other than `default` (SoulBox templates have no tags).
 */
export async function resolveAlias(
  ctx: ApiContext,
  team: string,
  raw: string,
): Promise<{ templateID: string; public: boolean }> {
  const name = parseTemplateName(raw);
  if (name.namespace !== undefined && name.namespace !== team)
    throw badRequest(`namespace '${name.namespace}' must match your team '${team}'`);
  const identifier = name.namespace === undefined ? name.alias : `${name.namespace}/${name.alias}`;
  const cm = await templateConfigMap(ctx, team, name.alias);
  if (!cm) throw new ApiError(404, `template '${identifier}' not found`);
  if (name.tag !== undefined)
    throw new ApiError(404, `tag '${name.tag}' does not exist for template '${identifier}'`);
  return { templateID: templateIdOfConfigMap(cm), public: false };
}

async function templateConfigMap(
  ctx: ApiContext,
  team: string,
  id: string,
): Promise<V1ConfigMap | undefined> {
  // A Kubernetes name has no upper case or underscores: such an id cannot be a template.
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(id)) return undefined;
  return ctx.kube.readConfigMap(team, `${TEMPLATE_CONFIGMAP_PREFIX}${id}`);
}

function sizeAndStatus(cm: V1ConfigMap): { size: SandboxSize; status: E2bBuildStatus } {
  const probe: Sandbox = {
    apiVersion: SandboxResource.apiVersion,
    kind: SandboxResource.kind,
    metadata: { namespace: cm.metadata?.namespace },
    spec: { templateRef: cm.metadata?.name ?? "" },
  };
  try {
    return { size: sizeOfTemplate(resolveTemplate(probe, cm)), status: "ready" };
  } catch {
    // The operator would refuse it too (the create answers why): listed, but not usable.
    return { size: { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 }, status: "error" };
  }
}

function isoOf(t: Date | string | undefined): string {
  if (t === undefined) return new Date(0).toISOString();
  const d = typeof t === "string" ? new Date(t) : t;
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}
