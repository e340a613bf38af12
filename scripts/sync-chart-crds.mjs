// Copies the CustomResourceDefinitions from crds/ (their single source) into the Helm chart's
// crds/ folder, where `helm install` picks them up. `node scripts/sync-chart-crds.mjs` writes the
// copies and removes copies whose source is gone; `--check` changes nothing and fails (exit 1)
// naming every copy that is missing, stale or left over, so CI catches an edit that skipped the
// sync.
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = "crds";
const TARGET = "charts/soulbox/crds";

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length > 0) {
  console.error(`sync-chart-crds: unknown argument ${unknown.join(" ")} (only --check)`);
  process.exit(2);
}
const check = args.includes("--check");

/** The YAML files of a folder, by name (an absent folder has none). */
function yamlFiles(dir) {
  try {
    return readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith(".yaml"))
      .sort();
  } catch (err) {
    if (err.code === "ENOENT") return [];
    throw err;
  }
}

/** What the chart's copy of crds/<file> must hold: a marker line, then the source unchanged. */
function expected(file) {
  return (
    `# Copied from ${SOURCE}/${file} by scripts/sync-chart-crds.mjs: edit the source, then run` +
    ` \`npm run sync:chart-crds\`.\n` +
    readFileSync(join(ROOT, SOURCE, file), "utf8")
  );
}

const sources = yamlFiles(SOURCE);
if (sources.length === 0) {
  console.error(`sync-chart-crds: no CRDs in ${SOURCE}/`);
  process.exit(1);
}
const copies = yamlFiles(TARGET);
const problems = [];
for (const file of sources) {
  const want = expected(file);
  let have;
  try {
    have = readFileSync(join(ROOT, TARGET, file), "utf8");
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  if (have === want) continue;
  problems.push(`${TARGET}/${file} is ${have === undefined ? "missing" : "stale"}`);
  if (!check) {
    mkdirSync(join(ROOT, TARGET), { recursive: true });
    writeFileSync(join(ROOT, TARGET, file), want);
  }
}
for (const file of copies.filter((f) => !sources.includes(f))) {
  problems.push(`${TARGET}/${file} has no source in ${SOURCE}/`);
  if (!check) rmSync(join(ROOT, TARGET, file));
}

if (check) {
  if (problems.length > 0) {
    console.error(
      `the chart's CRDs differ from ${SOURCE}/ (run \`npm run sync:chart-crds\`):\n  ${problems.join("\n  ")}`,
    );
    process.exit(1);
  }
  console.log(`chart CRDs are current (${sources.length})`);
} else {
  console.log(
    problems.length > 0
      ? `updated the chart's CRDs:\n  ${problems.join("\n  ")}`
      : `chart CRDs are current (${sources.length})`,
  );
}
