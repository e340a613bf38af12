// The global setup of the `process` project (see jest.config.js): builds dist/ (envd, the
// executor, the operator, the gateway) once per test run, and the storage test servers
// (e2e/storage/build: MinIO and fake-gcs-server, kept by stamp, so only the first run compiles).
// The `cluster` project's setup (jest.global-setup.js) calls the same dist/ build, so a run of
// both builds it once.
import { execFileSync } from "node:child_process";

const BUILT = Symbol.for("soulbox.test.distBuilt");

/** Runs scripts/build.mjs unless this jest process already did. */
export function buildDistOnce() {
  if (globalThis[BUILT]) return;
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  globalThis[BUILT] = true;
}

export default function buildSetup() {
  buildDistOnce();
  // The storage test servers (MinIO, fake-gcs-server) from their pinned Go modules, kept by stamp.
  execFileSync("e2e/storage/build", { stdio: "inherit" });
}
