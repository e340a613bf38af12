/**
 * `gateway keys create|list|revoke`: API keys in the keys Secret. `create` prints the new key once
 * and stores only its SHA-256; the running gateways pick the change up from their watch.
 */
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { Label } from "../../api/labels.js";
import {
  KEY_NAME,
  TEAM_NAME,
  encodeKeyEntry,
  generateKey,
  hashKey,
  parseKeyEntries,
  type KeyEntry,
} from "./auth/api-keys.js";

/** A refusal of the keys command: bad arguments or a state that forbids the change. */
export class KeysCommandError extends Error {
  override name = "KeysCommandError";
}

/** Where the command prints. */
export interface Output {
  write(text: string): unknown;
}

/** The default name of the keys Secret. */
export const DEFAULT_KEYS_SECRET = "soulbox-gateway-api-keys";

const USAGE = `usage:
  gateway keys create --team <namespace> [--name <name>] [--expires-in <seconds>]
  gateway keys list
  gateway keys revoke --name <name>
options for all: --namespace <ns> (where the keys Secret is; default POD_NAMESPACE or default),
                 --api-keys-secret <name> (default ${DEFAULT_KEYS_SECRET})`;

/**
 * Runs `keys <argv>` against the cluster of `kubeConfig`, printing to `out`. Throws
 * {@link KeysCommandError} for bad arguments, a name that exists, an unknown name to revoke or a
 * team that is not a namespace.
 */
export async function runKeysCommand(
  argv: readonly string[],
  kubeConfig: k8s.KubeConfig,
  out: Output,
): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        team: { type: "string" },
        name: { type: "string" },
        "expires-in": { type: "string" },
        namespace: { type: "string" },
        "api-keys-secret": { type: "string" },
        help: { type: "boolean" },
      },
    });
  } catch (err) {
    throw new KeysCommandError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`, {
      cause: err,
    });
  }
  const { values, positionals } = parsed;
  const [verb, ...extra] = positionals;
  if (values.help) {
    out.write(`${USAGE}\n`);
    return;
  }
  if (extra.length > 0) throw new KeysCommandError(`unexpected argument '${extra[0]}'\n${USAGE}`);
  const store = keysSecret(
    kubeConfig,
    values.namespace ?? process.env.POD_NAMESPACE ?? "default",
    values["api-keys-secret"] ?? DEFAULT_KEYS_SECRET,
  );
  switch (verb) {
    case "create":
      return create(kubeConfig, store, values, out);
    case "list":
      return list(store, out);
    case "revoke":
      return revoke(store, values.name, out);
    default:
      throw new KeysCommandError(
        `${verb ? `unknown command '${verb}'` : "a command is needed"}\n${USAGE}`,
      );
  }
}

interface KeysSecret {
  read(): Promise<k8s.V1Secret | undefined>;
  /** Writes `data` with optimistic concurrency (create when `current` is undefined). */
  write(current: k8s.V1Secret | undefined, data: Record<string, string>): Promise<void>;
  namespace: string;
  name: string;
}

function keysSecret(kc: k8s.KubeConfig, namespace: string, name: string): KeysSecret {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    namespace,
    name,
    read: () =>
      core.readNamespacedSecret({ namespace, name }).catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw err;
      }),
    async write(current, data) {
      if (!current) {
        await core.createNamespacedSecret({
          namespace,
          body: {
            metadata: { name, labels: { [Label.managedBy]: "soulbox-gateway" } },
            type: "Opaque",
            data,
          },
        });
        return;
      }
      // replace carries the resourceVersion read: a concurrent change makes it fail with 409.
      await core.replaceNamespacedSecret({ namespace, name, body: { ...current, data } });
    },
  };
}

/** Reads, changes and writes the Secret, again from the start when another writer got there first. */
async function update(
  store: KeysSecret,
  change: (data: Record<string, string>) => Record<string, string>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await store.read();
    const data = change({ ...(current?.data ?? {}) });
    try {
      await store.write(current, data);
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code === 409 && attempt < 5) continue;
      throw err;
    }
  }
}

async function create(
  kc: k8s.KubeConfig,
  store: KeysSecret,
  values: { team?: string; name?: string; "expires-in"?: string },
  out: Output,
): Promise<void> {
  const team = values.team;
  if (!team) throw new KeysCommandError(`--team <namespace> is required\n${USAGE}`);
  if (!TEAM_NAME.test(team))
    throw new KeysCommandError(
      `--team '${team}' is not a namespace name: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit`,
    );
  const exists = await kc
    .makeApiClient(k8s.CoreV1Api)
    .readNamespace({ name: team })
    .then(
      () => true,
      // Only a definite "not found" refuses; without the right to read namespaces, trust the caller.
      (err: unknown) => (err as { code?: unknown }).code !== 404,
    );
  if (!exists)
    throw new KeysCommandError(
      `--team '${team}': there is no namespace '${team}'; create it first`,
    );
  const name = values.name ?? `key-${generateKey().slice(4, 12)}`;
  if (!KEY_NAME.test(name))
    throw new KeysCommandError(
      `--name '${name}' is not valid: at most 63 letters, digits, '-', '_' and '.'`,
    );
  let expiresAt: string | undefined;
  if (values["expires-in"] !== undefined) {
    const s = values["expires-in"];
    if (!/^\d+$/.test(s) || Number(s) < 1)
      throw new KeysCommandError(
        `--expires-in '${s}' must be a whole number of seconds, at least 1`,
      );
    expiresAt = new Date(Date.now() + Number(s) * 1000).toISOString();
  }
  const key = generateKey();
  const entry: KeyEntry = { team, sha256: hashKey(key), createdAt: new Date().toISOString() };
  if (expiresAt) entry.expiresAt = expiresAt;
  await update(store, (data) => {
    if (name in data)
      throw new KeysCommandError(
        `a key named '${name}' exists already: revoke it first or pick another --name`,
      );
    return { ...data, [name]: encodeKeyEntry(entry) };
  });
  out.write(`${key}\n`);
}

async function list(store: KeysSecret, out: Output): Promise<void> {
  const { keys, invalid } = parseKeyEntries((await store.read())?.data);
  const rows = [
    ["NAME", "TEAM", "CREATED", "EXPIRES"],
    ...keys
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((k) => [k.name, k.team, k.createdAt, k.expiresAt ?? "never"]),
    ...invalid.map((b) => [b.name, `(invalid: ${b.reason})`, "", ""]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows)
    out.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
}

async function revoke(store: KeysSecret, name: string | undefined, out: Output): Promise<void> {
  if (!name) throw new KeysCommandError(`--name <name> is required\n${USAGE}`);
  await update(store, (data) => {
    if (!(name in data))
      throw new KeysCommandError(`there is no key named '${name}' (see 'gateway keys list')`);
    const rest = { ...data };
    delete rest[name];
    return rest;
  });
  out.write(`revoked ${name}\n`);
}
