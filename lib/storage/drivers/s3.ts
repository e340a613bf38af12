/**
 * The S3 backend, also R2's (same wire, with R2's endpoint, region `auto` and equal part sizes).
 * Uploads go through lib-storage's `Upload`: fixed-size parts (R2 refuses unequal ones except the
 * last), a few in flight, the multipart upload aborted on failure so nothing is left under the
 * name. Small writes are one PutObject; a conditional create sends `If-None-Match: *`.
 */
import { Readable } from "node:stream";

import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

import type { Credentials, S3Config } from "../config.js";
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

/** Bytes per multipart part: memory per upload is about PART_SIZE × (QUEUE_SIZE + 1). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight at once. */
export const QUEUE_SIZE = 4;

/** An S3 (or R2) driver for `config`, with the Secret's keys or the SDK's ambient credentials. */
export function createS3Driver(config: S3Config, credentials: Credentials): BlobDriver {
  const options: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.pathStyle,
    // A few quick retries: a dead server should fail a call in seconds, not minutes.
    maxAttempts: 3,
    // S3-compatible servers (R2 among them) do not all know the SDK's newer default checksums.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  if (config.endpoint) options.endpoint = config.endpoint;
  if (credentials.accessKeyId && credentials.secretAccessKey) {
    options.credentials = {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    };
  }
  return new S3Driver(new S3Client(options), config);
}

class S3Driver implements BlobDriver {
  readonly displayUrl: string;

  constructor(
    private readonly client: S3Client,
    private readonly config: S3Config,
  ) {
    this.displayUrl = displayUrl(config);
  }

  private key(name: string): string {
    return joinName(this.config.prefix, name);
  }

  private fail(err: unknown, what: string, name: string): StorageError {
    return toStorageError(err, `${what} ${this.displayUrl} ${name}`);
  }

  async upload(name: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.config.bucket,
        Key: this.key(name),
        Body: Readable.from(body, { objectMode: false }),
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      throw this.fail(err, "upload", name);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async putSmall(name: string, bytes: Uint8Array, ifNotExists: boolean): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(name),
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: "application/json",
          ...(ifNotExists ? { IfNoneMatch: "*" } : {}),
        }),
      );
    } catch (err) {
      throw this.fail(err, "put", name);
    }
  }

  getSmall(name: string, limit: number): Promise<Uint8Array> {
    return readSmallBlob(this, name, limit, (err) => this.fail(err, "get", name));
  }

  async download(name: string, range?: BlobRange, signal?: AbortSignal): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(name),
          ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
        }),
        signal ? { abortSignal: signal } : {},
      );
      if (!(out.Body instanceof Readable))
        throw new StorageError("Unavailable", "the S3 client gave no stream");
      return out.Body;
    } catch (err) {
      throw this.fail(err, "get", name);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) }),
      );
    } catch (err) {
      const e = this.fail(err, "delete", name);
      if (e.code !== "NotFound") throw e;
    }
  }

  async listPage(prefix: string, pageSize: number, cursor?: string): Promise<BlobPage> {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.key(prefix),
          MaxKeys: pageSize,
          ...(cursor ? { ContinuationToken: cursor } : {}),
        }),
      );
      const entries = (out.Contents ?? []).flatMap((o) =>
        o.Key === undefined
          ? []
          : [
              {
                name: stripPrefix(this.config.prefix, o.Key),
                size: o.Size ?? 0,
                lastModified: o.LastModified ?? new Date(0),
              },
            ],
      );
      return out.IsTruncated && out.NextContinuationToken
        ? { entries, cursor: out.NextContinuationToken }
        : { entries };
    } catch (err) {
      throw this.fail(err, "list", prefix);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
