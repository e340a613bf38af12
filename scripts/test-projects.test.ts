/**
 * The jest projects of jest.config.js, checked with jest's own glob matcher: every *.test.ts file
 * in the repository is in exactly one project (none silently skipped, none run twice), every file
 * the config names exists, and each file is where what it needs says: a unit test (and the
 * test-support it imports) starts no process, reads no dist/ and uses no cluster; a process test
 * uses no cluster. A new test that needs more than Node.js belongs in PROCESS_TESTS or
 * CLUSTER_TESTS of jest.config.js.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { globsToMatcher } from "jest-util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Project {
  displayName: string;
  testMatch: string[];
  testPathIgnorePatterns: string[];
}
interface JestConfigModule {
  projects: Project[];
  CLUSTER_TESTS: string[];
  PROCESS_TESTS: string[];
}
// A specifier TypeScript does not resolve: jest.config.js is plain JavaScript without types.
const configUrl: string = pathToFileURL(join(ROOT, "jest.config.js")).href;
const config = (await import(configUrl)) as JestConfigModule;
const projects = config.projects;

/** Every *.test.ts under the repository, relative paths; dependencies, dist/ and dot dirs aside. */
function testFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "dist") return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.isFile() && e.name.endsWith(".test.ts") ? [relative(ROOT, path)] : [];
  });
}

/** The projects whose testMatch (and testPathIgnorePatterns) take `file`, as jest decides. */
function projectsOf(file: string): string[] {
  const abs = join(ROOT, file);
  return projects
    .filter((p) => {
      const globs = p.testMatch.map((g) => g.replace(/^<rootDir>/, ROOT.replace(/\/$/, "")));
      const ignored = p.testPathIgnorePatterns.some((re) => new RegExp(re).test(abs));
      return globsToMatcher(globs)(abs) && !ignored;
    })
    .map((p) => p.displayName);
}

const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g;

/**
 * The source of `file` and of the test helpers it imports, transitively: relative imports into a
 * test-support folder or e2e/ (the code under test itself may well spawn processes; what matters
 * is whether the test makes it).
 */
function sourcesOf(file: string, seen = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  if (seen.has(file)) return out;
  seen.add(file);
  const text = readFileSync(join(ROOT, file), "utf8");
  out.set(file, text);
  for (const m of text.matchAll(RELATIVE_IMPORT)) {
    const target = relative(ROOT, resolve(ROOT, dirname(file), m[1]!)).replace(/\.js$/, ".ts");
    if (target.includes("test-support/") || target.startsWith("e2e/"))
      for (const [f, t] of sourcesOf(target, seen)) out.set(f, t);
  }
  return out;
}

// Built from parts so that this file does not match itself.
const CHILD_PROCESS = new RegExp(`"node:${"child"}_process"`);
const DIST = new RegExp(`\\b${"dist"}/`);
const CLUSTER = new RegExp(`test-support/${"cluster"}\\.js|${"KUBE"}CONFIG`);

/** What in the sources of `file` (with its helpers) a project does not allow: "helper: reason". */
function violations(file: string, rules: [RegExp, string][]): string[] {
  const found: string[] = [];
  for (const [f, text] of sourcesOf(file))
    for (const [re, why] of rules) if (re.test(text)) found.push(`${f}: ${why}`);
  return found;
}

const files = testFiles();
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

test("the repository has test files, and jest.config.js the three projects", () => {
  expect(files.length).toBeGreaterThan(50);
  expect(projects.map((p) => p.displayName)).toEqual(["unit", "process", "cluster"]);
});

test("every test file is in exactly one project", () => {
  const wrong = files
    .map((f) => ({ file: f, projects: projectsOf(f) }))
    .filter((x) => x.projects.length !== 1);
  expect(wrong).toEqual([]);
});

test("every file that jest.config.js names exists (a moved test leaves no stale entry)", () => {
  const named = [...config.CLUSTER_TESTS, ...config.PROCESS_TESTS].filter((g) => !/[*?{[]/.test(g));
  expect(named.filter((f) => !files.includes(f))).toEqual([]);
});

test("unit tests start no process, read no dist/ and use no cluster", () => {
  const unit = files.filter((f) => f !== SELF && projectsOf(f)[0] === "unit");
  const rules: [RegExp, string][] = [
    [CHILD_PROCESS, "starts processes (a process test)"],
    [DIST, "uses dist/ (a process test)"],
    [CLUSTER, "uses the cluster (a cluster test)"],
  ];
  expect(unit.flatMap((f) => violations(f, rules).map((v) => `${f} ← ${v}`))).toEqual([]);
});

test("process tests use no cluster", () => {
  const proc = files.filter((f) => projectsOf(f)[0] === "process");
  const rules: [RegExp, string][] = [[CLUSTER, "uses the cluster (a cluster test)"]];
  expect(proc.flatMap((f) => violations(f, rules).map((v) => `${f} ← ${v}`))).toEqual([]);
});
