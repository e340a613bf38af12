/**
 * E2B's own envd (Go, built by bench/e2b-envd.sh) as a process on this machine: where the binary
 * is, and starting/stopping it by pid on a free port of the loopback, so that `bench:envd` can
 * measure it beside ours with the same client.
 */
import { execFileSync, spawn } from "node:child_process";
import { access, constants, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../envd/test-support/envd-process.js";
import { stopChild } from "../lib/stop-child.js";

/** Where bench/e2b-envd.sh leaves its build, and the source commit beside it. */
const CACHED = fileURLToPath(new URL(".e2b-envd/envd", import.meta.url));
const CACHED_COMMIT = fileURLToPath(new URL(".e2b-envd/COMMIT", import.meta.url));

/**
 * Flags for running E2B's envd outside a Firecracker VM, as their own debug container does
 * (`-isnotfc`: no MMDS polling, no HTTP log export). `-no-cgroups`: ours places no process in a
 * cgroup either, and the bench must not create cgroups on a machine that other tests share.
 */
export const E2B_ENVD_FLAGS = ["-isnotfc", "-no-cgroups"] as const;

/** A built E2B envd: its path, `-version` output and the source commit when known. */
export interface E2bEnvdBinary {
  path: string;
  version: string;
  commit: string;
}

/**
 * The E2B envd to measure: `E2B_ENVD` (which must then be executable), else the cached build of
 * bench/e2b-envd.sh, else undefined (the bench then measures ours alone).
 */
export async function findE2bEnvd(): Promise<E2bEnvdBinary | undefined> {
  const named = process.env.E2B_ENVD;
  const path = named || CACHED;
  const executable = await access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!executable) {
    if (named) throw new Error(`E2B_ENVD=${named} is not an executable file`);
    return undefined;
  }
  const version = execFileSync(path, ["-version"], { encoding: "utf8" }).trim();
  // The cache's COMMIT belongs to the cached binary only; a binary named by E2B_ENVD reports
  // the commit it was linked with (E2B's Makefile sets main.commitSHA).
  const commit = named
    ? execFileSync(path, ["-commit"], { encoding: "utf8" }).trim() || "unknown"
    : (await readFile(CACHED_COMMIT, "utf8").catch(() => "unknown")).trim();
  return { path, version, commit };
}

/** A started E2B envd: its URL and pid (one process, so its RSS is all of it). */
export interface E2bEnvdProcess {
  url: string;
  pid: number;
  /** What it printed (its logs stay off without `-verbose`; errors still go to stderr). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts E2B's envd on a free port and waits until `GET /health` answers 204. It listens on
 * 0.0.0.0 (it has no address flag); the bench talks to 127.0.0.1. It must run as root: it starts
 * each command as the user the request names.
 */
export async function startE2bEnvd(binary: string): Promise<E2bEnvdProcess> {
  const port = await freePort();
  const child = spawn(binary, [...E2B_ENVD_FLAGS, "-port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  child.on("error", (e) => (out += `${e.message}\n`));
  const stop = () => stopChild(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`E2B envd exited during start-up:\n${out}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 204,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`E2B envd did not become healthy in 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pid: child.pid ?? 0, output: () => out, stop };
}
