import type { V1ConfigMap } from "@kubernetes/client-node";
import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import { ENVD_VERSION } from "../../../api/envd.js";
import {
  parseTemplateName,
  templateIdOfConfigMap,
  templateUse,
  toE2bTemplate,
  toE2bTemplateWithBuilds,
  type TemplateName,
} from "./templates.js";
import { teamsOf } from "./teams.js";

const cm = (name: string, template: string, labels?: Record<string, string>): V1ConfigMap => ({
  metadata: {
    name,
    namespace: "team-a",
    uid: "0f8fad5b-d9cb-469f-a165-70867728950e",
    creationTimestamp: new Date("2030-01-01T00:00:00Z"),
    labels,
  },
  data: { template },
});
const BASE = cm(
  "soulbox-template-base",
  "image: example/base:1\nresources:\n  limits:\n    cpu: '2'\n    memory: 512Mi\n",
  { "soulbox.dev/template": "base" },
);

test.each<[string, string, TemplateName | string]>([
  ["plain", "base", { alias: "base" }],
  ["trimmed and lower-cased", "  Base ", { alias: "base" }],
  ["default tag", "base:default", { alias: "base" }],
  ["a tag", "base:v1.2", { alias: "base", tag: "v1.2" }],
  ["a namespace", "team-a/base", { namespace: "team-a", alias: "base" }],
  ["bad characters", "Bad Alias!", "Invalid alias format: invalid template ID: Bad Alias!"],
  ["empty", "", "Invalid alias format: invalid template ID: "],
  ["bad tag", "base:a b", "Invalid alias format: invalid tag: a b"],
  ["bad namespace", "a b/base", "Invalid alias format: invalid namespace: a b"],
])("parseTemplateName: %s", (_name, input, want) => {
  if (typeof want === "string")
    expect(() => parseTemplateName(input)).toThrow(
      expect.objectContaining({ status: 400, message: want }),
    );
  else expect(parseTemplateName(input)).toEqual(want);
});

test.each<[string, V1ConfigMap, string]>([
  ["from the label", cm("soulbox-template-x", "", { "soulbox.dev/template": "y" }), "y"],
  ["from the name", cm("soulbox-template-x", ""), "x"],
])("templateIdOfConfigMap: %s", (_name, c, id) => {
  expect(templateIdOfConfigMap(c)).toBe(id);
});

test("templateUse counts the cached sandboxes per template and keeps the latest start", () => {
  const sb = (name: string, ref: string, startedAt: string) => {
    const s = sandboxFixture({ metadata: { name }, spec: { templateRef: ref } });
    s.status = { startedAt };
    return s;
  };
  const use = templateUse([
    sb("a", "soulbox-template-base", "2030-01-01T00:00:01Z"),
    sb("b", "soulbox-template-base", "2030-01-01T00:00:05Z"),
    sb("c", "soulbox-template-other", "2030-01-01T00:00:03Z"),
  ]);
  expect(use.get("base")).toEqual({ spawnCount: 2, lastSpawnedAt: "2030-01-01T00:00:05.000Z" });
  expect(use.get("other")).toEqual({ spawnCount: 1, lastSpawnedAt: "2030-01-01T00:00:03.000Z" });
  expect(use.get("none")).toBeUndefined();
});

test("a template ConfigMap as E2B's Template and TemplateWithBuilds", () => {
  const t = toE2bTemplate(BASE, { spawnCount: 2, lastSpawnedAt: "2030-01-02T00:00:00.000Z" });
  expect(t).toEqual({
    templateID: "base",
    buildID: "0f8fad5b-d9cb-469f-a165-70867728950e",
    cpuCount: 2,
    memoryMB: 512,
    diskSizeMB: 0,
    public: false,
    aliases: ["base"],
    names: ["base"],
    createdAt: "2030-01-01T00:00:00.000Z",
    updatedAt: "2030-01-01T00:00:00.000Z",
    createdBy: null,
    lastSpawnedAt: "2030-01-02T00:00:00.000Z",
    spawnCount: 2,
    buildCount: 1,
    envdVersion: ENVD_VERSION,
    buildStatus: "ready",
  });
  expect(toE2bTemplateWithBuilds(BASE, undefined)).toEqual({
    templateID: "base",
    public: false,
    aliases: ["base"],
    names: ["base"],
    createdAt: "2030-01-01T00:00:00.000Z",
    updatedAt: "2030-01-01T00:00:00.000Z",
    lastSpawnedAt: null,
    spawnCount: 0,
    builds: [
      {
        buildID: "0f8fad5b-d9cb-469f-a165-70867728950e",
        status: "ready",
        createdAt: "2030-01-01T00:00:00.000Z",
        updatedAt: "2030-01-01T00:00:00.000Z",
        finishedAt: "2030-01-01T00:00:00.000Z",
        cpuCount: 2,
        memoryMB: 512,
        diskSizeMB: 0,
        envdVersion: ENVD_VERSION,
      },
    ],
  });
});

test("an unreadable template is listed with buildStatus error", () => {
  expect(toE2bTemplate(cm("soulbox-template-bad", ": not yaml ["), undefined)).toMatchObject({
    templateID: "bad",
    buildStatus: "error",
  });
});

test("teamsOf: the key's team, the default", () => {
  expect(teamsOf("team-a", "e2b_k")).toEqual([
    { teamID: "team-a", name: "team-a", apiKey: "e2b_k", isDefault: true },
  ]);
});
