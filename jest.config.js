// The tests, split by what they need (each *.test.ts is in exactly one project; the unit test
// scripts/test-projects.test.ts checks it, and that no unit test spawns a process, reads dist/ or
// uses the cluster):
// - unit: nothing but Node.js: no cluster, no dist/, no child process (in-process servers on
//   loopback are fine). Every test file not listed below. `npm run test:unit`.
// - process: needs dist/ (built once by jest.build-setup.js) and/or starts real processes
//   (envd, the executor, bash, openssl), but no cluster. `npm run test:process`.
// - cluster: needs e2e/cluster: the local Kubernetes that jest.global-setup.js brings up once
//   per run (also builds dist/), or what it builds (helm, kubectl). `npm run test:cluster`.
// A file listed under both cluster and process is a cluster test. Jest runs the global setup of
// a project only when the run has tests of it, so a unit-only run builds and starts nothing.

/** Test files that need the local cluster (paths from the repository root, jest globs). */
export const CLUSTER_TESTS = [
  "e2e/cluster/**/*.test.ts",
  "e2e/gateway/**/*.test.ts",
  "e2e/operator/**/*.test.ts",
  "e2e/gpu/**/*.test.ts",
  "e2e/snapshots/**/*.test.ts",
  "crds/**/*.test.ts",
  // helm from e2e/cluster/.bin renders the chart; chart-install installs it on the cluster.
  "charts/**/*.test.ts",
  "gateway/src/keys-cli.test.ts",
  "operator/src/leader-election.test.ts",
];

/** Test files that need dist/ or spawn processes, and no cluster. */
export const PROCESS_TESTS = [
  "e2e/envd-sdk/**/*.test.ts",
  "e2e/node-agent/**/*.test.ts",
  "e2e/storage/**/*.test.ts",
  "envd/image/**/*.test.ts",
  "envd/src/executor/runtime/runtime-process.test.ts",
  "envd/src/executor/main.test.ts",
  "envd/src/executor/start-command.test.ts",
  "envd/src/os/dir-watcher.test.ts",
  "envd/src/os/freezer.test.ts",
  "envd/src/sidecar/grpc-js.test.ts",
  "envd/src/sidecar/protocols.test.ts",
  "envd/src/sidecar/readiness.test.ts",
  "envd/src/sidecar/stream-memory.test.ts",
  "gateway/src/proxy/front-door.*.test.ts",
  "gpu/src/plugin-process.test.ts",
  "interpreter/src/interpreter-process.test.ts",
  "lib/stop-child.test.ts",
  "node-agent/src/layer-roundtrip.test.ts",
  "node-agent/src/memory/quiet.test.ts",
  "lib/storage/conformance.test.ts",
];

// Jest replaces <rootDir> only at the start of a glob, so a negated one ("!...") is absolute.
const ROOT = import.meta.dirname;
const fromRoot = (glob) => `${ROOT}/${glob}`;
const not = (glob) => `!${ROOT}/${glob}`;

/** What every project shares: TypeScript through swc, ESM, Node. */
const common = {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2023" },
        module: { type: "es6" },
      },
    ],
  },
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
};

/** The three projects, in the order a full run lists them. */
export const projects = [
  {
    ...common,
    displayName: "unit",
    testMatch: [fromRoot("**/*.test.ts"), ...CLUSTER_TESTS.map(not), ...PROCESS_TESTS.map(not)],
  },
  {
    ...common,
    displayName: "process",
    testMatch: [...PROCESS_TESTS.map(fromRoot), ...CLUSTER_TESTS.map(not)],
    globalSetup: "<rootDir>/jest.build-setup.js",
  },
  {
    ...common,
    displayName: "cluster",
    testMatch: CLUSTER_TESTS.map(fromRoot),
    globalSetup: "<rootDir>/jest.global-setup.js",
    globalTeardown: "<rootDir>/jest.global-teardown.js",
  },
];

// `npm run test:unit` (test:process, test:cluster) sets SOULBOX_TEST_PROJECTS to run one project
// (comma-separated names for several). It is not jest's --selectProjects because that takes every
// word after it, so `npm run test:unit -- <path>` would read the path as a project name.
const only = process.env.SOULBOX_TEST_PROJECTS?.split(",").filter((name) => name !== "");
const unknown = only?.filter((name) => !projects.some((p) => p.displayName === name)) ?? [];
if (unknown.length > 0)
  throw new Error(
    `SOULBOX_TEST_PROJECTS names no project ${unknown.join(", ")} (projects: unit, process, cluster)`,
  );

/** @type {import('jest').Config} */
export default {
  projects: only ? projects.filter((p) => only.includes(p.displayName)) : projects,
  // Integration tests spawn real processes; give them room on small machines.
  testTimeout: 60000,
  maxWorkers: 2,
};
