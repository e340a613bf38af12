/**
 * The storage layer's entry points: open a store from a URL (and a credentials Secret, and a
 * keyring), or from the environment the Helm chart sets. See ./object-store.ts for what a store
 * promises and the README's "Storage" section for the URL forms.
 */
import {
  checkCredentials,
  loadCredentialsDir,
  parseCredentialsJson,
  parseStorageUrl,
} from "./config.js";
import type { Credentials, StorageConfig } from "./config.js";
import type { BlobDriver } from "./drivers/driver.js";
import { createFileDriver } from "./drivers/file.js";
import { loadKeyring, type Keyring } from "./encryption.js";
import type { ObjectStore } from "./object-store.js";
import { createObjectStore } from "./store.js";

export * from "./object-store.js";
export { storageErrorStatus } from "./errors.js";
export { parseStorageUrl, displayUrl, type StorageConfig, type Credentials } from "./config.js";
export { createKeyring, loadKeyring, type Keyring } from "./encryption.js";
export { sweepOrphanBlobs, type SweepOptions } from "./store.js";

/** Options of {@link openObjectStore}. */
export interface OpenOptions {
  /** Credentials as the Secret's keys (JSON-decoded). */
  credentials?: Credentials;
  /** A mounted credentials Secret (one file per key); used when `credentials` is absent. */
  credentialsDir?: string;
  /** A keyring; given one with an active key, new objects are encrypted. */
  keyring?: Keyring;
  /** A mounted keyring Secret (one file per key id and `active`); used when `keyring` is absent. */
  keyringDir?: string;
}

/**
 * Opens the store a storage URL names. Fails with InvalidConfig on a bad URL, bad credentials or
 * a bad keyring (messages never carry a secret). Nothing is contacted until the first call, so a
 * provider that is down shows up as Unavailable there.
 */
export async function openObjectStore(
  url: string,
  options: OpenOptions = {},
): Promise<ObjectStore> {
  const config = parseStorageUrl(url);
  const credentials = checkCredentials(
    config,
    options.credentials ??
      (options.credentialsDir ? await loadCredentialsDir(options.credentialsDir) : {}),
  );
  const keyring =
    options.keyring ?? (options.keyringDir ? await loadKeyring(options.keyringDir) : undefined);
  const driver = await openDriver(config, credentials);
  return createObjectStore(driver, keyring ? { keyring } : {});
}

/**
 * The driver for a parsed URL: the file driver at once, the cloud ones imported on first use so
 * a process that only reads a PVC never loads the cloud SDKs. Exported for tests that reach
 * under the store (to corrupt a blob, say).
 */
export async function openDriver(
  config: StorageConfig,
  credentials: Credentials,
): Promise<BlobDriver> {
  switch (config.scheme) {
    case "file": {
      const driver = createFileDriver(config.path, config.owner);
      await (driver as BlobDriver & { checkRoot(): Promise<void> }).checkRoot();
      return driver;
    }
    case "s3":
    case "r2":
      return (await import("./drivers/s3.js")).createS3Driver(config, credentials);
    case "gs":
      return (await import("./drivers/gcs.js")).createGcsDriver(config, credentials);
    case "azblob":
      return (await import("./drivers/azblob.js")).createAzblobDriver(config, credentials);
  }
}

/**
 * Opens the store the environment names, as the Helm chart sets it (values `storage.*`):
 * - `SOULBOX_STORAGE_URL`: the storage URL (unset or empty: no store, resolves undefined);
 * - `SOULBOX_STORAGE_CREDENTIALS_DIR`: where the `storage.credentialsSecret` Secret is mounted
 *   (unset: the provider's ambient credentials);
 * - `SOULBOX_STORAGE_CREDENTIALS`: the same credentials as a JSON object (tests and local runs;
 *   the directory wins when both are set);
 * - `SOULBOX_STORAGE_KEYRING_DIR`: where the `storage.encryption.keySecret` Secret is mounted
 *   (unset: objects are written in the clear and encrypted ones cannot be read).
 */
export async function storageFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ObjectStore | undefined> {
  const url = env.SOULBOX_STORAGE_URL;
  if (!url) return undefined;
  const options: OpenOptions = {};
  if (env.SOULBOX_STORAGE_CREDENTIALS_DIR)
    options.credentialsDir = env.SOULBOX_STORAGE_CREDENTIALS_DIR;
  else if (env.SOULBOX_STORAGE_CREDENTIALS)
    options.credentials = parseCredentialsJson(env.SOULBOX_STORAGE_CREDENTIALS);
  if (env.SOULBOX_STORAGE_KEYRING_DIR) options.keyringDir = env.SOULBOX_STORAGE_KEYRING_DIR;
  return openObjectStore(url, options);
}
