// Integration tests run the real bundled envd; build it once per test run.
import { execFileSync } from "node:child_process";

export default function globalSetup() {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
