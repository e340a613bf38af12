/**
 * Reads the test cluster's etcd directly, past the API server, through etcd's own JSON gateway on
 * its client port (loopback): what an attacker holding a copy of etcd's data would see.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The test run's cluster state dir (set by jest's global setup). */
function stateDir(): string {
  const dir = process.env.SOULBOX_CLUSTER_DIR;
  if (!dir)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the cluster tests need jest's global setup");
  return dir;
}

/** The raw bytes etcd stores under `key` (e.g. `/registry/secrets/<ns>/<name>`), or undefined. */
export async function readEtcdRaw(key: string): Promise<Buffer | undefined> {
  const port = readFileSync(join(stateDir(), "etcd.port"), "utf8").trim();
  const res = await fetch(`http://127.0.0.1:${port}/v3/kv/range`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: Buffer.from(key).toString("base64") }),
  });
  if (!res.ok) throw new Error(`etcd range ${key}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { kvs?: { value?: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64");
}

/** The prefix the API server writes before a Secret it encrypted with the local cluster's key. */
export const AESGCM_PREFIX = "k8s:enc:aesgcm:v1:key1:";
