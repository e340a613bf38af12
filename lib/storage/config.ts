/**
 * Storage URLs and credentials. One URL names the backend, its bucket and the store's key prefix;
 * credentials never ride in it (they come from a mounted Secret or a JSON object), so the URL can be
 * logged, and {@link displayUrl} is rebuilt from the parsed parts rather than trusted.
 *
 * - `s3://bucket/prefix?region=us-east-1&endpoint=https://host:port&pathStyle=true`
 * - `r2://bucket/prefix?accountId=<id>` (endpoint `https://<id>.r2.cloudflarestorage.com`, or
 *   `?endpoint=`; region is always `auto`)
 * - `gs://bucket/prefix?project=<id>&endpoint=http://host:port`
 * - `azblob://account/container/prefix?endpoint=https://host/account`
 * - `file:///absolute/path` (a mounted PVC or a host path)
 */
import { readdir, readFile } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";

import { StorageError } from "./object-store.js";

/** An S3 (or R2) store. */
export interface S3Config {
  scheme: "s3" | "r2";
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  pathStyle: boolean;
  /** R2 only: the Cloudflare account the endpoint is derived from. */
  accountId?: string;
}

/** A Google Cloud Storage store. */
export interface GcsConfig {
  scheme: "gs";
  bucket: string;
  prefix: string;
  endpoint?: string;
  project?: string;
}

/** An Azure Blob store. */
export interface AzblobConfig {
  scheme: "azblob";
  account: string;
  container: string;
  prefix: string;
  endpoint?: string;
}

/** A directory store. */
export interface FileConfig {
  scheme: "file";
  path: string;
  /**
   * `?owner=<uid>:<gid>`: every directory and file the store writes is given to this owner. A
   * store shared by a root writer (the node agent) and a non-root deleter (the operator) needs it:
   * deleting a file takes write permission on its directory.
   */
  owner?: { uid: number; gid: number };
}

/** A parsed storage URL. */
export type StorageConfig = S3Config | GcsConfig | AzblobConfig | FileConfig;

/** Credentials as the Secret's keys hold them (see {@link CREDENTIAL_KEYS}). */
export type Credentials = Record<string, string>;

/** The keys a credentials Secret (or JSON object) may have, per scheme. */
export const CREDENTIAL_KEYS: Record<StorageConfig["scheme"], readonly string[]> = {
  s3: ["accessKeyId", "secretAccessKey", "sessionToken"],
  r2: ["accessKeyId", "secretAccessKey", "sessionToken"],
  gs: ["serviceAccountJson"],
  azblob: ["accountName", "accountKey", "sasToken"],
  file: [],
};

const OPTIONS: Record<StorageConfig["scheme"], readonly string[]> = {
  s3: ["endpoint", "region", "pathStyle"],
  r2: ["endpoint", "accountId", "pathStyle"],
  gs: ["endpoint", "project"],
  azblob: ["endpoint"],
  file: ["owner"],
};

function invalid(url: string, why: string): StorageError {
  return new StorageError("InvalidConfig", `storage URL ${redact(url)}: ${why}`);
}

/** The URL without its query values (they are not secrets by design, but a mistake could be). */
function redact(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const names = url
    .slice(q + 1)
    .split("&")
    .map((p) => p.split("=")[0])
    .join(",");
  return `${url.slice(0, q)}?<${names}>`;
}

function checkEndpoint(url: string, endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw invalid(url, `endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw invalid(url, `endpoint ${u.protocol}// is not http or https`);
  if (u.username || u.password)
    throw invalid(url, "the endpoint carries credentials; put them in the credentials Secret");
  if (u.search || u.hash)
    throw invalid(
      url,
      "the endpoint has a query or fragment (a SAS token belongs in the credentials Secret)",
    );
  return endpoint.replace(/\/+$/, "");
}

/** `<uid>:<gid>`, both whole numbers below 2^31. */
function parseOwner(url: string, v: string): { uid: number; gid: number } {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(v);
  const uid = Number(m?.[1]);
  const gid = Number(m?.[2]);
  if (!m || uid > 0x7fffffff || gid > 0x7fffffff)
    throw invalid(url, `option owner ${JSON.stringify(v)} is not <uid>:<gid> (e.g. 65532:65532)`);
  return { uid, gid };
}

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const AZ_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AZ_CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

/** True when `endpoint` is on this machine (emulators): R2 then uses path-style addressing. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

/**
 * Parses a storage URL. Fails with InvalidConfig, naming the problem, on an unknown scheme, a
 * missing or malformed bucket, a bad endpoint, an unknown or repeated option, or a file path that
 * is not absolute.
 */
export function parseStorageUrl(url: string): StorageConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(url, "not a URL (want s3://, r2://, gs://, azblob:// or file:///)");
  }
  const scheme = u.protocol.slice(0, -1);
  if (!(scheme in OPTIONS))
    throw invalid(
      url,
      `unknown scheme ${scheme}:// (want s3://, r2://, gs://, azblob:// or file:///)`,
    );
  const s = scheme as StorageConfig["scheme"];
  if (u.username || u.password)
    throw invalid(url, "credentials in the URL; put them in the credentials Secret");
  if (u.hash) throw invalid(url, "a fragment (#...) means nothing here");
  const opts = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (!OPTIONS[s].includes(k))
      throw invalid(
        url,
        `unknown option ${JSON.stringify(k)} for ${s}:// (known: ${OPTIONS[s].join(", ") || "none"}; credentials belong in the credentials Secret)`,
      );
    if (opts.has(k)) throw invalid(url, `option ${k} is given twice`);
    if (v === "") throw invalid(url, `option ${k} is empty`);
    opts.set(k, v);
  }

  if (s === "file") {
    if (u.host !== "" && u.host !== "localhost")
      throw invalid(
        url,
        `a file URL takes an absolute path: file:///path (got host ${JSON.stringify(u.host)}; a relative path is not allowed)`,
      );
    const path = decodeURIComponent(u.pathname);
    if (!isAbsolute(path) || path === "/")
      throw invalid(url, "a file URL needs an absolute directory other than /");
    if (path.split("/").includes("..")) throw invalid(url, "a file path must not contain ..");
    const c: FileConfig = { scheme: "file", path: normalize(path).replace(/\/+$/, "") };
    const owner = opts.get("owner");
    if (owner !== undefined) c.owner = parseOwner(url, owner);
    return c;
  }

  const segments = decodeURIComponent(u.pathname)
    .split("/")
    .filter((p) => p !== "");
  if (segments.some((p) => p === "." || p === ".."))
    throw invalid(url, "the prefix must not contain . or .. segments");
  const endpoint = opts.has("endpoint") ? checkEndpoint(url, opts.get("endpoint")!) : undefined;
  const bucket = u.hostname;
  if (bucket === "") throw invalid(url, `missing bucket: ${s}://<bucket>/<prefix>`);
  if (u.port) throw invalid(url, "a port after the bucket; give the server with ?endpoint=");

  const bool = (name: string): boolean | undefined => {
    const v = opts.get(name);
    if (v === undefined) return undefined;
    if (v !== "true" && v !== "false") throw invalid(url, `option ${name} must be true or false`);
    return v === "true";
  };

  switch (s) {
    case "s3": {
      if (!S3_BUCKET.test(bucket))
        throw invalid(url, `bucket ${JSON.stringify(bucket)} is not a valid S3 bucket name`);
      const region = opts.get("region") ?? "us-east-1";
      if (!/^[a-z0-9-]+$/.test(region))
        throw invalid(url, `region ${JSON.stringify(region)} is not a region`);
      const c: S3Config = {
        scheme: "s3",
        bucket,
        prefix: segments.join("/"),
        region,
        pathStyle: bool("pathStyle") ?? false,
      };
      if (endpoint) c.endpoint = endpoint;
      return c;
    }
    case "r2": {
      if (!S3_BUCKET.test(bucket))
        throw invalid(url, `bucket ${JSON.stringify(bucket)} is not a valid R2 bucket name`);
      const accountId = opts.get("accountId");
      if (accountId !== undefined && !/^[a-f0-9]{32}$/i.test(accountId))
        throw invalid(url, "accountId must be the 32 hex digits of a Cloudflare account id");
      const ep =
        endpoint ?? (accountId ? `https://${accountId}.r2.cloudflarestorage.com` : undefined);
      if (!ep) throw invalid(url, "r2:// needs ?accountId=<Cloudflare account id> (or ?endpoint=)");
      const c: S3Config = {
        scheme: "r2",
        bucket,
        prefix: segments.join("/"),
        region: "auto",
        endpoint: ep,
        // R2 serves virtual-hosted buckets; an emulator on loopback has no DNS for them.
        pathStyle: bool("pathStyle") ?? isLoopbackEndpoint(ep),
      };
      if (accountId) c.accountId = accountId;
      return c;
    }
    case "gs": {
      if (!GCS_BUCKET.test(bucket))
        throw invalid(url, `bucket ${JSON.stringify(bucket)} is not a valid GCS bucket name`);
      const c: GcsConfig = { scheme: "gs", bucket, prefix: segments.join("/") };
      if (endpoint) c.endpoint = endpoint;
      const project = opts.get("project");
      if (project) c.project = project;
      return c;
    }
    case "azblob": {
      if (!AZ_ACCOUNT.test(bucket))
        throw invalid(
          url,
          `account ${JSON.stringify(bucket)} is not an Azure storage account name`,
        );
      const [container, ...rest] = segments;
      if (!container)
        throw invalid(url, "missing container: azblob://<account>/<container>/<prefix>");
      if (!AZ_CONTAINER.test(container))
        throw invalid(
          url,
          `container ${JSON.stringify(container)} is not a valid Azure container name`,
        );
      const c: AzblobConfig = {
        scheme: "azblob",
        account: bucket,
        container,
        prefix: rest.join("/"),
      };
      if (endpoint) c.endpoint = endpoint;
      return c;
    }
  }
}

/** The store's URL rebuilt from its parsed parts: never a secret in it. */
export function displayUrl(c: StorageConfig): string {
  const q = new URLSearchParams();
  const path = (bucket: string, prefix: string) => (prefix ? `${bucket}/${prefix}` : bucket);
  switch (c.scheme) {
    case "file":
      return `file://${c.path}`;
    case "s3":
    case "r2":
      if (c.endpoint) q.set("endpoint", c.endpoint);
      if (c.scheme === "s3") q.set("region", c.region);
      return `${c.scheme}://${path(c.bucket, c.prefix)}${q.size ? `?${q}` : ""}`;
    case "gs":
      if (c.endpoint) q.set("endpoint", c.endpoint);
      return `gs://${path(c.bucket, c.prefix)}${q.size ? `?${q}` : ""}`;
    case "azblob":
      if (c.endpoint) q.set("endpoint", c.endpoint);
      return `azblob://${c.account}/${path(c.container, c.prefix)}${q.size ? `?${q}` : ""}`;
  }
}

/**
 * Checks credentials against the scheme: only known keys, string values, pairs complete. The
 * messages name keys, never values.
 */
export function checkCredentials(c: StorageConfig, creds: Credentials): Credentials {
  const allowed = CREDENTIAL_KEYS[c.scheme];
  for (const [k, v] of Object.entries(creds)) {
    if (!allowed.includes(k))
      throw new StorageError(
        "InvalidConfig",
        `credentials for ${c.scheme}:// have an unknown key ${JSON.stringify(k)} (known: ${allowed.join(", ") || "none"})`,
      );
    if (typeof v !== "string" || v === "")
      throw new StorageError("InvalidConfig", `credential ${k} must be a non-empty string`);
  }
  if (c.scheme === "s3" || c.scheme === "r2") {
    if ("accessKeyId" in creds !== "secretAccessKey" in creds)
      throw new StorageError(
        "InvalidConfig",
        "credentials need both accessKeyId and secretAccessKey",
      );
    if ("sessionToken" in creds && !("accessKeyId" in creds))
      throw new StorageError("InvalidConfig", "sessionToken needs accessKeyId and secretAccessKey");
  }
  if (c.scheme === "gs" && creds.serviceAccountJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(creds.serviceAccountJson);
    } catch {
      throw new StorageError("InvalidConfig", "serviceAccountJson is not JSON");
    }
    const p = parsed as Record<string, unknown>;
    if (
      typeof p !== "object" ||
      p === null ||
      typeof p.client_email !== "string" ||
      typeof p.private_key !== "string"
    )
      throw new StorageError(
        "InvalidConfig",
        "serviceAccountJson lacks client_email or private_key",
      );
  }
  if (c.scheme === "azblob") {
    if (creds.accountName !== undefined && creds.accountName !== c.account)
      throw new StorageError(
        "InvalidConfig",
        `credential accountName is not the URL's account ${c.account}`,
      );
    if (creds.accountKey !== undefined && creds.sasToken !== undefined)
      throw new StorageError("InvalidConfig", "give accountKey or sasToken, not both");
    if (creds.accountKey === undefined && creds.sasToken === undefined)
      throw new StorageError("InvalidConfig", "azblob:// credentials need accountKey or sasToken");
  }
  return creds;
}

/** Parses credentials given as JSON (the Secret's keys as an object). */
export function parseCredentialsJson(json: string): Credentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new StorageError("InvalidConfig", "storage credentials are not a JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new StorageError("InvalidConfig", "storage credentials are not a JSON object");
  return parsed as Credentials;
}

/**
 * Reads credentials from a mounted Secret directory: one file per Secret key. The `..data`-style
 * entries of a Secret volume are skipped; a trailing newline (a hand-made Secret) is dropped.
 */
export async function loadCredentialsDir(dir: string): Promise<Credentials> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new StorageError("InvalidConfig", `storage credentials directory ${dir} cannot be read`, {
      cause: err,
    });
  }
  const creds: Credentials = {};
  for (const name of names) {
    if (name.startsWith(".")) continue;
    creds[name] = (await readFile(join(dir, name), "utf8")).replace(/\r?\n$/, "");
  }
  return creds;
}
