/**
 * The Azure Blob backend. Uploads stage blocks of a fixed size (a few in flight) and commit the
 * block list at the end: until then the blob does not exist, so an interrupted upload leaves
 * nothing visible (uncommitted blocks expire on their own). A conditional create is an upload
 * with `If-None-Match: *`.
 */
import { Readable } from "node:stream";

import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type StoragePipelineOptions,
} from "@azure/storage-blob";

import type { AzblobConfig, Credentials } from "../config.js";
import { displayUrl } from "../config.js";
import { toStorageError } from "../errors.js";
import { StorageError } from "../object-store.js";
import {
  joinName,
  readSmallBlob,
  stripPrefix,
  type BlobDriver,
  type BlobPage,
  type BlobRange,
} from "./driver.js";

/** Bytes per staged block: memory per upload is about BLOCK_SIZE × (IN_FLIGHT + 1). */
export const BLOCK_SIZE = 8 * 1024 * 1024;
/** Blocks staged at once. */
export const IN_FLIGHT = 4;

/** An Azure Blob driver for `config` with the account key or a SAS token. */
export function createAzblobDriver(config: AzblobConfig, credentials: Credentials): BlobDriver {
  const endpoint = config.endpoint ?? `https://${config.account}.blob.core.windows.net`;
  // Few, quick retries: a dead server should fail a call in seconds.
  const pipelineOptions: StoragePipelineOptions = {
    retryOptions: {
      maxTries: 3,
      retryDelayInMs: 200,
      maxRetryDelayInMs: 2000,
      tryTimeoutInMs: 120_000,
    },
  };
  let service: BlobServiceClient;
  if (credentials.accountKey) {
    const cred = new StorageSharedKeyCredential(config.account, credentials.accountKey);
    service = new BlobServiceClient(endpoint, cred, pipelineOptions);
  } else if (credentials.sasToken) {
    const sas = credentials.sasToken.replace(/^\?/, "");
    service = new BlobServiceClient(
      `${endpoint}?${sas}`,
      new AnonymousCredential(),
      pipelineOptions,
    );
  } else {
    throw new StorageError("InvalidConfig", "azblob:// credentials need accountKey or sasToken");
  }
  return new AzblobDriver(service.getContainerClient(config.container), config);
}

class AzblobDriver implements BlobDriver {
  readonly displayUrl: string;

  constructor(
    private readonly container: ContainerClient,
    private readonly config: AzblobConfig,
  ) {
    this.displayUrl = displayUrl(config);
  }

  private blob(name: string) {
    return this.container.getBlockBlobClient(joinName(this.config.prefix, name));
  }

  private fail(err: unknown, what: string, name: string): StorageError {
    return toStorageError(err, `${what} ${this.displayUrl} ${name}`);
  }

  async upload(name: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    try {
      await this.blob(name).uploadStream(
        Readable.from(body, { objectMode: false }),
        BLOCK_SIZE,
        IN_FLIGHT,
        {
          ...(signal ? { abortSignal: signal } : {}),
          blobHTTPHeaders: { blobContentType: "application/octet-stream" },
        },
      );
    } catch (err) {
      throw this.fail(err, "upload", name);
    }
  }

  async putSmall(name: string, bytes: Uint8Array, ifNotExists: boolean): Promise<void> {
    try {
      await this.blob(name).upload(bytes, bytes.byteLength, {
        blobHTTPHeaders: { blobContentType: "application/json" },
        ...(ifNotExists ? { conditions: { ifNoneMatch: "*" } } : {}),
      });
    } catch (err) {
      throw this.fail(err, "put", name);
    }
  }

  getSmall(name: string, limit: number): Promise<Uint8Array> {
    return readSmallBlob(this, name, limit, (err) => this.fail(err, "get", name));
  }

  async download(name: string, range?: BlobRange, signal?: AbortSignal): Promise<Readable> {
    try {
      const out = await this.blob(name).download(
        range?.start ?? 0,
        range ? range.end - range.start : undefined,
        signal ? { abortSignal: signal } : {},
      );
      const body = out.readableStreamBody;
      if (!body) throw new StorageError("Unavailable", "the Azure client gave no stream");
      return body instanceof Readable
        ? body
        : Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false });
    } catch (err) {
      throw this.fail(err, "get", name);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.blob(name).deleteIfExists();
    } catch (err) {
      throw this.fail(err, "delete", name);
    }
  }

  async listPage(prefix: string, pageSize: number, cursor?: string): Promise<BlobPage> {
    try {
      const pages = this.container
        .listBlobsFlat({ prefix: joinName(this.config.prefix, prefix) })
        .byPage({ maxPageSize: pageSize, ...(cursor ? { continuationToken: cursor } : {}) });
      const first = await pages.next();
      if (first.done) return { entries: [] };
      const page = first.value;
      const entries = page.segment.blobItems.map((b) => ({
        name: stripPrefix(this.config.prefix, b.name),
        size: b.properties.contentLength ?? 0,
        lastModified: b.properties.lastModified,
      }));
      return page.continuationToken ? { entries, cursor: page.continuationToken } : { entries };
    } catch (err) {
      throw this.fail(err, "list", prefix);
    }
  }

  async close(): Promise<void> {}
}
