// Generates api/gen/crd-types.ts from the CustomResourceDefinitions in crds/, so the
// CRD schemas stay the one source of the API: `node scripts/gen-crd-types.mjs` writes the file,
// `node scripts/gen-crd-types.mjs --check` fails (exit 1) when the checked-in file differs from a
// fresh generation and changes nothing.
//
// How a schema becomes TypeScript:
// - every object with properties becomes an interface; its name is the schema's `title` when it
//   has one (`Condition`, shared by all kinds and emitted once), else the kind plus the path of
//   property names, skipping `spec` (`spec.template.env[]` → `SandboxTemplateEnv`,
//   `status.conditions` → `SandboxStatusConditions`); two different shapes under one name fail;
// - a string enum becomes a union of literals (a named type when the schema has a `title`);
// - `x-kubernetes-int-or-string` becomes `number | string`, a map (`additionalProperties`)
//   `Record<string, T>`;
// - a property is required when the schema lists it in `required` or its object has the rule
//   `has(self.<name>)`, and it is `never` when its object has the rule `!has(self.<name>)`;
// - descriptions become JSDoc, defaults `@default`. Defaulted fields stay optional: the API server
//   fills them in, but a client may leave them out.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CRD_DIR = join(ROOT, "crds");
const OUT = join(ROOT, "api/gen/crd-types.ts");
const OUT_NAME = "api/gen/crd-types.ts";
const WIDTH = 100;

/** Reads every CRD in crds/ (YAML 1.1, as kubectl reads it), sorted by file name. */
function readCrds() {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => {
      const crd = parse(readFileSync(join(CRD_DIR, f), "utf8"), { version: "1.1" });
      if (crd?.kind !== "CustomResourceDefinition")
        throw new Error(`crds/${f}: not a CustomResourceDefinition`);
      const versions = crd.spec.versions.filter((v) => v.storage);
      if (versions.length !== 1) throw new Error(`crds/${f}: expected one storage version`);
      return { file: f, crd, version: versions[0] };
    });
}

const pascal = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const isIdentifier = (s) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s);

/** JSDoc lines for a description (wrapped to WIDTH at the given indent) and a default. */
function jsdoc(indent, description, dflt) {
  const parts = [];
  if (description) parts.push(...description.trim().split(/\n\s*\n/));
  if (dflt !== undefined) parts.push(`@default ${JSON.stringify(dflt)}`);
  if (parts.length === 0) return [];
  const text = parts.map((p) => p.replace(/\s+/g, " ").replaceAll("*/", "*\\/"));
  const single = `${indent}/** ${text.join(" ")} */`;
  if (text.length === 1 && single.length <= WIDTH) return [single];
  const lines = [`${indent}/**`];
  text.forEach((p, i) => {
    if (i > 0) lines.push(`${indent} *`);
    let line = `${indent} *`;
    for (const word of p.split(" ")) {
      if (line.length + 1 + word.length > WIDTH && line !== `${indent} *`) {
        lines.push(line);
        line = `${indent} *`;
      }
      line += ` ${word}`;
    }
    lines.push(line);
  });
  lines.push(`${indent} */`);
  return lines;
}

/** `export type name = a | b;`, broken over lines the way prettier breaks it when too long. */
function typeAlias(name, members) {
  const line = `export type ${name} = ${members.join(" | ")};`;
  if (line.length <= WIDTH) return [line];
  const tail = `  ${members.join(" | ")};`;
  if (tail.length <= WIDTH) return [`export type ${name} =`, tail];
  return [
    `export type ${name} =`,
    ...members.map((m, i) => `  | ${m}${i === members.length - 1 ? ";" : ""}`),
  ];
}

/** Property names an object's rules make required (`has(self.x)`) or forbidden (`!has(self.x)`). */
function ruleFields(schema) {
  const required = new Set();
  const forbidden = new Set();
  for (const v of schema["x-kubernetes-validations"] ?? []) {
    const m = /^\s*(!?)has\(self\.([A-Za-z_][A-Za-z0-9_]*)\)\s*$/.exec(v.rule);
    if (m) (m[1] ? forbidden : required).add(m[2]);
  }
  return { required, forbidden };
}

/** Collects the declarations of one file; `emit` returns the type expression for a schema. */
function createEmitter() {
  const declarations = [];
  const seen = new Map(); // type name → JSON of the schema it was made from

  /** Records a named declaration once; the same name for a different schema is an error. */
  function declare(name, schema, build) {
    const key = JSON.stringify(schema);
    const before = seen.get(name);
    if (before !== undefined) {
      if (before !== key) throw new Error(`two different schemas want the type name ${name}`);
      return name;
    }
    seen.set(name, key);
    const slot = declarations.push([]) - 1; // keep parents before children
    declarations[slot] = build();
    return name;
  }

  function emit(schema, name) {
    if (schema["x-kubernetes-int-or-string"]) return "number | string";
    if (schema["x-kubernetes-preserve-unknown-fields"] && !schema.properties) return "unknown";
    switch (schema.type) {
      case "string": {
        if (!schema.enum) return "string";
        const union = schema.enum.map((v) => JSON.stringify(v)).join(" | ");
        if (!schema.title) return union;
        return declare(schema.title, schema, () => [
          ...jsdoc("", schema.description),
          ...typeAlias(
            schema.title,
            schema.enum.map((v) => JSON.stringify(v)),
          ),
        ]);
      }
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array": {
        const item = emit(schema.items, name);
        return item.includes(" ") ? `(${item})[]` : `${item}[]`;
      }
      case "object": {
        if (schema.properties) return objectType(schema, schema.title ?? name);
        if (schema.additionalProperties)
          return `Record<string, ${emit(schema.additionalProperties, `${name}Value`)}>`;
        return "Record<string, unknown>";
      }
      default:
        throw new Error(`${name}: unsupported schema type ${String(schema.type)}`);
    }
  }

  function objectType(schema, name) {
    return declare(name, schema, () => {
      const rules = ruleFields(schema);
      const required = new Set([...(schema.required ?? []), ...rules.required]);
      const lines = [...jsdoc("", schema.description), `export interface ${name} {`];
      for (const [prop, sub] of Object.entries(schema.properties)) {
        const key = isIdentifier(prop) ? prop : JSON.stringify(prop);
        const type = rules.forbidden.has(prop)
          ? "never"
          : emit(sub, `${name.replace(/Spec$/, "")}${pascal(prop)}`);
        lines.push(...jsdoc("  ", sub.description, sub.default));
        lines.push(`  ${key}${required.has(prop) && type !== "never" ? "" : "?"}: ${type};`);
      }
      lines.push("}");
      return lines;
    });
  }

  return { declarations, emit, declare };
}

/** The whole generated file. */
function generate() {
  const crds = readCrds();
  const groups = new Set(crds.map(({ crd, version }) => `${crd.spec.group}/${version.name}`));
  if (groups.size !== 1) throw new Error(`expected one group/version, found ${[...groups]}`);
  const [apiVersion] = groups;
  const [group, version] = apiVersion.split("/");
  const { declarations, emit, declare } = createEmitter();

  for (const { file, crd, version: v } of crds) {
    const names = crd.spec.names;
    const kind = names.kind;
    const root = v.schema.openAPIV3Schema;
    const props = root.properties ?? {};
    if (!props.spec) throw new Error(`crds/${file}: the schema has no spec`);
    const resource = `${kind}Resource`;
    declarations.push([
      `/** Where the API serves ${kind} (crds/${file}). */`,
      `export const ${resource} = {`,
      `  group: ${JSON.stringify(crd.spec.group)},`,
      `  version: ${JSON.stringify(v.name)},`,
      `  apiVersion: ${JSON.stringify(apiVersion)},`,
      `  kind: ${JSON.stringify(kind)},`,
      `  listKind: ${JSON.stringify(names.listKind ?? `${kind}List`)},`,
      `  plural: ${JSON.stringify(names.plural)},`,
      `  singular: ${JSON.stringify(names.singular ?? kind.toLowerCase())},`,
      `  shortNames: [${(names.shortNames ?? []).map((s) => JSON.stringify(s)).join(", ")}],`,
      `} as const;`,
    ]);
    declare(kind, root, () => {
      const required = new Set(root.required ?? []);
      const lines = [...jsdoc("", root.description), `export interface ${kind} {`];
      lines.push(`  apiVersion: typeof ${resource}.apiVersion;`);
      lines.push(`  kind: typeof ${resource}.kind;`);
      lines.push(`  metadata: V1ObjectMeta;`);
      for (const part of ["spec", "status"]) {
        if (!props[part]) continue;
        const type = emit(props[part], `${kind}${pascal(part)}`);
        lines.push(...jsdoc("  ", props[part].description));
        lines.push(`  ${part}${required.has(part) ? "" : "?"}: ${type};`);
      }
      lines.push("}");
      return lines;
    });
    declarations.push([
      `/** A list of ${kind} objects, as the API returns it. */`,
      `export interface ${names.listKind ?? `${kind}List`} {`,
      `  apiVersion: typeof ${resource}.apiVersion;`,
      `  kind: typeof ${resource}.listKind;`,
      `  metadata: V1ListMeta;`,
      `  items: ${kind}[];`,
      `}`,
    ]);
  }

  return [
    "// Generated by scripts/gen-crd-types.mjs from crds/*.yaml. Do not edit: change the CRD and run",
    "// `npm run gen:crd-types`; `npm run check:crd-types` fails when this file is stale.",
    "",
    'import type { V1ListMeta, V1ObjectMeta } from "@kubernetes/client-node";',
    "",
    `/** The API group of every SoulBox resource. */`,
    `export const GROUP = ${JSON.stringify(group)};`,
    `/** The API version of every SoulBox resource. */`,
    `export const VERSION = ${JSON.stringify(version)};`,
    `/** \`apiVersion\` of every SoulBox object. */`,
    `export const API_VERSION = ${JSON.stringify(apiVersion)};`,
    "",
    declarations.map((d) => d.join("\n")).join("\n\n"),
    "",
  ].join("\n");
}

const fresh = generate();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    // missing: stale
  }
  if (current !== fresh) {
    console.error(`${OUT_NAME} is stale: run \`npm run gen:crd-types\` and commit the result`);
    process.exit(1);
  }
  console.log(`${OUT_NAME} is current`);
} else {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, fresh);
  console.log(`wrote ${OUT_NAME}`);
}
