/**
 * The Google Cloud Storage backend. An upload is a resumable upload session streamed in one
 * request (bounded memory: the stream's back-pressure; the object exists only once the session is
 * finalised, so an interrupted upload leaves nothing). The client's chunked mode is not used: it
 * holds a whole chunk in memory per request and, against the emulator, slowed a 1 GiB put from
 * seconds to minutes; a failed put is retried whole by the store's caller anyway. A conditional
 * create is a write with `ifGenerationMatch: 0`.
 */
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { Storage, type Bucket, type StorageOptions } from "@google-cloud/storage";

import type { Credentials, GcsConfig } from "../config.js";
import { displayUrl } from "../config.js";
import { toStorageError } from "../errors.js";
import type { StorageError } from "../object-store.js";
import {
  joinName,
  readSmallBlob,
  stripPrefix,
  type BlobDriver,
  type BlobPage,
  type BlobRange,
} from "./driver.js";

/**
 * A GCS driver. With `serviceAccountJson` it authenticates as that account (also against a custom
 * endpoint); without it, against Google it uses the ambient credentials (workload identity), and
 * against a custom endpoint (an emulator) none.
 */
export function createGcsDriver(config: GcsConfig, credentials: Credentials): BlobDriver {
  const options: StorageOptions = {
    // Few, quick retries: a dead server should fail a call in seconds.
    retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 2, totalTimeout: 60 },
  };
  if (config.endpoint) options.apiEndpoint = config.endpoint;
  if (config.project) options.projectId = config.project;
  if (credentials.serviceAccountJson) {
    const key = JSON.parse(credentials.serviceAccountJson) as Record<string, string>;
    options.credentials = key;
    if (!options.projectId && key.project_id) options.projectId = key.project_id;
    if (config.endpoint) options.useAuthWithCustomEndpoint = true;
  }
  return new GcsDriver(new Storage(options).bucket(config.bucket), config);
}

class GcsDriver implements BlobDriver {
  readonly displayUrl: string;

  constructor(
    private readonly bucket: Bucket,
    private readonly config: GcsConfig,
  ) {
    this.displayUrl = displayUrl(config);
  }

  private file(name: string) {
    return this.bucket.file(joinName(this.config.prefix, name));
  }

  private fail(err: unknown, what: string, name: string): StorageError {
    return toStorageError(err, `${what} ${this.displayUrl} ${name}`);
  }

  async upload(name: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const sink = this.file(name).createWriteStream({
      resumable: true,
      // The store checks sha256 itself; GCS's own checksums would cost a second pass here.
      validation: false,
      contentType: "application/octet-stream",
    });
    try {
      await pipeline(Readable.from(body, { objectMode: false }), sink, signal ? { signal } : {});
    } catch (err) {
      throw this.fail(err, "upload", name);
    }
  }

  async putSmall(name: string, bytes: Uint8Array, ifNotExists: boolean): Promise<void> {
    try {
      await this.file(name).save(Buffer.from(bytes), {
        resumable: false,
        validation: false,
        contentType: "application/json",
        ...(ifNotExists ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
    } catch (err) {
      throw this.fail(err, "put", name);
    }
  }

  getSmall(name: string, limit: number): Promise<Uint8Array> {
    return readSmallBlob(this, name, limit, (err) => this.fail(err, "get", name));
  }

  async download(name: string, range?: BlobRange): Promise<Readable> {
    const stream = this.file(name).createReadStream({
      validation: false,
      ...(range ? { start: range.start, end: range.end - 1 } : {}),
    });
    // The read stream fails lazily; wait for its first bytes (or its end) so a missing object
    // fails this call, not the caller's stream.
    const settled = new AbortController();
    try {
      await Promise.race([
        once(stream, "readable", { signal: settled.signal }),
        once(stream, "end", { signal: settled.signal }),
      ]);
      settled.abort(); // drops the loser's listeners
    } catch (err) {
      settled.abort();
      stream.destroy();
      throw this.fail(err, "get", name);
    }
    return stream;
  }

  async remove(name: string): Promise<void> {
    try {
      await this.file(name).delete({ ignoreNotFound: true });
    } catch (err) {
      throw this.fail(err, "delete", name);
    }
  }

  async listPage(prefix: string, pageSize: number, cursor?: string): Promise<BlobPage> {
    try {
      const [files, next] = await this.bucket.getFiles({
        prefix: joinName(this.config.prefix, prefix),
        maxResults: pageSize,
        autoPaginate: false,
        ...(cursor ? { pageToken: cursor } : {}),
      });
      const entries = files.map((f) => ({
        name: stripPrefix(this.config.prefix, f.name),
        size: Number(f.metadata.size ?? 0),
        lastModified: new Date(f.metadata.updated ?? 0),
      }));
      const token = (next as { pageToken?: string } | null | undefined)?.pageToken;
      return token ? { entries, cursor: token } : { entries };
    } catch (err) {
      throw this.fail(err, "list", prefix);
    }
  }

  async close(): Promise<void> {}
}
