/**
 * What every component knows about envd, the daemon in each sandbox pod: its port, the version it
 * reports, and where its access token lives. The operator writes these, envd serves them and the
 * gateway routes by them, so they are one contract here.
 */
import type { V1Secret } from "@kubernetes/client-node";

/** The port envd serves on in every sandbox pod (E2B's envd port; the gateway relies on it). */
export const ENVD_PORT = 49983;

/**
 * The envd version SoulBox reports. E2B's SDK enables features by comparing
 * against it; it must be at least the newest feature gate in the installed
 * `e2b` SDK (0.6.4 in e2b 2.51: watching network mounts).
 */
export const ENVD_VERSION = "0.6.4";

/**
 * Node.js flags of envd's two processes (the sidecar and the executor). Semi-spaces of 1 MiB
 * instead of V8's default 16 MiB: envd's garbage is short-lived stream chunks, and the young
 * generation's high-water mark stayed resident after every transfer (sidecar + executor RSS
 * after 256 MB of stdout and 200 commands: 307 → 225 MiB, same throughput; see
 * bench/RESULTS.md). The envd image's entrypoint (e2e/cluster/lib/images.sh) passes the same.
 */
export const ENVD_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/** The key of the access token in a sandbox's token Secret. */
export const TOKEN_KEY = "token";

/**
 * The name of a sandbox's token Secret: `<sandbox>-envd` (a sandbox name has at most 63
 * characters). Only the envd sidecar (through a secretKeyRef) and those allowed to read Secrets
 * ever see the token; the code in the sandbox container never does.
 */
export function tokenSecretName(sandbox: string): string {
  return `${sandbox}-envd`;
}

/**
 * The name of a SandboxPool's token Secret, the token envd has in the pool's pods until a Sandbox
 * takes one and the operator gives it the Sandbox's token. The dot keeps it apart from every
 * sandbox's Secret (a sandbox name has no dot).
 */
export function poolTokenSecretName(pool: string): string {
  return `${pool}.pool-envd`;
}

/** The token a Secret holds, or undefined when it holds none. */
export function tokenFromSecret(secret: V1Secret | undefined): string | undefined {
  const encoded = secret?.data?.[TOKEN_KEY];
  if (!encoded) return undefined;
  const token = Buffer.from(encoded, "base64").toString("utf8");
  return token || undefined;
}

/**
 * Resource usage of the sandbox as envd's `GET /metrics` answers it (E2B's field names); the
 * gateway passes it on in its own metrics route.
 */
export interface SandboxMetrics {
  ts: number;
  cpu_count: number;
  cpu_used_pct: number;
  mem_total: number;
  mem_used: number;
  disk_used: number;
  disk_total: number;
}
