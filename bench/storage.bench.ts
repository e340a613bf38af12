/**
 * Storage benchmark (`npm run bench:storage`): starts the real storage servers with
 * `e2e/storage/up` in a state dir of its own (MinIO for S3 and for R2, fake-gcs-server, Azurite,
 * and a directory for file://), and for each of the five backends measures
 * 1. put and get of a large object (default 1 GiB, streamed from a generator: never one buffer)
 *    through SoulBox's store (`openObjectStore` from lib/storage), in MB/s (10^6 bytes/s);
 * 2. the same put and get with the plain official client (S3Client + lib-storage's Upload, GCS
 *    Storage, BlobServiceClient, node:fs streams fsynced on close) at its defaults, and the ratio
 *    SoulBox / raw (the target: 0.5 or more, i.e. within 2x of the server's own throughput here);
 * 3. a 4 KiB get, one after the other (default 200), p50/p99 in ms, SoulBox and raw;
 * 4. the node-local cache (lib/storage/node-cache.ts) in front of the store: a 4 KiB and a 64 MiB
 *    object opened and read to the end on a miss (fetched from the server) and on a hit.
 * Prints one Markdown table and ends with exactly one line (a stable interface):
 * `storage: <n> backends, slowest put <x> MB/s, slowest get <y> MB/s` (n: backends whose
 * SoulBox store ran; x, y: the slowest SoulBox put and get among them).
 * Stops the servers by pid (`e2e/storage/down --purge`) when it ends, also on failure.
 * SOULBOX_BENCH_STORAGE_MIB: the large object's size in MiB (default 1024);
 * SOULBOX_BENCH_STORAGE_GETS: the 4 KiB gets per backend (default 200);
 * SOULBOX_BENCH_STORAGE_BACKENDS: a comma-separated subset of s3,r2,gcs,azblob,file.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { openObjectStore, type ObjectStore } from "../lib/storage/index.js";
import { createNodeCache, type NodeCache } from "../lib/storage/node-cache.js";
import { progress, quantile } from "./support.js";

const MIB = 1 << 20;
const LARGE = Number(process.env.SOULBOX_BENCH_STORAGE_MIB ?? 1024) * MIB;
const GETS = Number(process.env.SOULBOX_BENCH_STORAGE_GETS ?? 200);
const SMALL = 4096;
const CACHE_LARGE = 64 * MIB;
const ALL = ["s3", "r2", "gcs", "azblob", "file"] as const;
type Name = (typeof ALL)[number];
const ONLY = process.env.SOULBOX_BENCH_STORAGE_BACKENDS?.split(",").filter(Boolean);
const BACKENDS = ALL.filter((b) => !ONLY || ONLY.includes(b));

// Eight random MiB, handed out in turn: incompressible bytes without a 1 GiB buffer. A chunk is
// never written to after it is made, so handing the same one out again is safe.
const POOL = Array.from({ length: 8 }, () => randomBytes(MIB));

/** `size` bytes as 1 MiB chunks (the last one shorter). */
async function* bytes(size: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0, i = 0; sent < size; sent += MIB, i++) {
    const chunk = POOL[i % POOL.length]!;
    yield size - sent >= MIB ? chunk : chunk.subarray(0, size - sent);
  }
}

/** Reads a stream to its end; fails unless it had `size` bytes. */
async function drain(stream: AsyncIterable<Uint8Array>, size: number): Promise<void> {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  if (n !== size) throw new Error(`read ${n} bytes, expected ${size}`);
}

/** Milliseconds that `fn` took. */
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const mbps = (size: number, ms: number) => size / 1e6 / (ms / 1000);

/** A backend through its plain official client: the baseline. */
interface Raw {
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<void>;
  get(key: string): Promise<AsyncIterable<Uint8Array>>;
  close(): void;
}

type Env = Record<string, string>;

function rawS3(env: Env, kind: "S3" | "R2"): Raw {
  const url = new URL(env[`SOULBOX_STORAGE_${kind}_URL`]!);
  const bucket = url.hostname;
  const prefix = url.pathname.slice(1);
  const client = new S3Client({
    endpoint: url.searchParams.get("endpoint")!,
    region: kind === "R2" ? "auto" : (url.searchParams.get("region") ?? "us-east-1"),
    forcePathStyle: true,
    credentials: JSON.parse(env[`SOULBOX_STORAGE_${kind}_CREDENTIALS`]!),
  });
  return {
    async put(key, body) {
      await new Upload({
        client,
        params: { Bucket: bucket, Key: `${prefix}/${key}`, Body: Readable.from(body) },
      }).done();
    },
    async get(key) {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }),
      );
      return out.Body as Readable;
    },
    close: () => client.destroy(),
  };
}

function rawGcs(env: Env): Raw {
  const url = new URL(env.SOULBOX_STORAGE_GCS_URL!);
  const storage = new Storage({
    apiEndpoint: url.searchParams.get("endpoint")!,
    projectId: url.searchParams.get("project")!,
  });
  const file = (key: string) =>
    storage.bucket(url.hostname).file(`${url.pathname.slice(1)}/${key}`);
  return {
    put: (key, body) => pipeline(Readable.from(body), file(key).createWriteStream()),
    get: async (key) => file(key).createReadStream(),
    close: () => {},
  };
}

function rawAzblob(env: Env): Raw {
  const url = new URL(env.SOULBOX_STORAGE_AZBLOB_URL!);
  const [container, ...prefix] = url.pathname.slice(1).split("/");
  const creds = JSON.parse(env.SOULBOX_STORAGE_AZBLOB_CREDENTIALS!);
  const service = new BlobServiceClient(
    url.searchParams.get("endpoint")!,
    new StorageSharedKeyCredential(creds.accountName, creds.accountKey),
  );
  const blob = (key: string) =>
    service.getContainerClient(container!).getBlockBlobClient(`${prefix.join("/")}/${key}`);
  return {
    put: async (key, body) => void (await blob(key).uploadStream(Readable.from(body))),
    get: async (key) => (await blob(key).download()).readableStreamBody as Readable,
    close: () => {},
  };
}

function rawFile(env: Env): Raw {
  // Beside the store's own directory, so the two never see each other's files.
  const dir = join(env.SOULBOX_STORAGE_DIR!, "files", "raw");
  return {
    async put(key, body) {
      await mkdir(join(dir, key, ".."), { recursive: true });
      // flush: fsynced before close, as the file store commits (a durable write, not the page
      // cache's speed).
      await pipeline(Readable.from(body), createWriteStream(join(dir, key), { flush: true }));
    },
    get: async (key) => createReadStream(join(dir, key)),
    close: () => {},
  };
}

const rawFor = (name: Name, env: Env): Raw =>
  name === "s3"
    ? rawS3(env, "S3")
    : name === "r2"
      ? rawS3(env, "R2")
      : name === "gcs"
        ? rawGcs(env)
        : name === "azblob"
          ? rawAzblob(env)
          : rawFile(env);

/** What one backend measured; SoulBox's figures are absent when its store could not open. */
interface Result {
  name: Name;
  rawPut: number;
  rawGet: number;
  rawSmall: number[];
  put?: number;
  get?: number;
  small?: number[];
  cache?: { smallMiss: number; smallHit: number; largeMiss: number; largeHit: number };
  error?: string;
}

/** 4 KiB gets one after the other, in ms each. */
async function smallGets(get: () => Promise<AsyncIterable<Uint8Array>>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < GETS; i++) times.push(await time(async () => drain(await get(), SMALL)));
  return times;
}

/** A miss then a hit of `key` through the cache (ms each, read to the end). */
async function missAndHit(cache: NodeCache, store: ObjectStore, key: string, size: number) {
  const open = async (expectHit: boolean) => {
    const read = await cache.open(store, key);
    if (read.hit !== expectHit) throw new Error(`${key}: hit ${read.hit}, expected ${expectHit}`);
    await drain(read.stream, size);
  };
  return { miss: await time(() => open(false)), hit: await time(() => open(true)) };
}

async function measure(name: Name, env: Env, cacheDir: string): Promise<Result> {
  const upper = name.toUpperCase();
  const raw = rawFor(name, env);
  try {
    progress(`${name}: raw client, put/get ${LARGE / MIB} MiB`);
    const rawPut = mbps(LARGE, await time(() => raw.put("raw/large", bytes(LARGE))));
    const rawGet = mbps(LARGE, await time(async () => drain(await raw.get("raw/large"), LARGE)));
    await raw.put("raw/small", bytes(SMALL));
    const rawSmall = await smallGets(() => raw.get("raw/small"));
    const result: Result = { name, rawPut, rawGet, rawSmall };

    let store: ObjectStore;
    try {
      const creds = env[`SOULBOX_STORAGE_${upper}_CREDENTIALS`];
      store = await openObjectStore(
        env[`SOULBOX_STORAGE_${upper}_URL`]!,
        creds ? { credentials: JSON.parse(creds) } : {},
      );
    } catch (err) {
      result.error = (err as Error).message;
      progress(`${name}: SoulBox's store did not open: ${result.error}`);
      return result;
    }
    // A failure of SoulBox's store is this backend's result, not the end of the bench.
    try {
      progress(`${name}: SoulBox store, put/get ${LARGE / MIB} MiB`);
      result.put = mbps(LARGE, await time(() => store.put("bench/large", bytes(LARGE))));
      result.get = mbps(
        LARGE,
        await time(async () => drain(await store.get("bench/large"), LARGE)),
      );
      await store.delete("bench/large");
      await store.put("bench/small", bytes(SMALL));
      result.small = await smallGets(() => store.get("bench/small"));

      progress(`${name}: node cache, 4 KiB and ${CACHE_LARGE / MIB} MiB, miss then hit`);
      await store.put("bench/cache-small", bytes(SMALL));
      await store.put("bench/cache-large", bytes(CACHE_LARGE));
      const cache = await createNodeCache({ dir: join(cacheDir, name), maxBytes: 4 * CACHE_LARGE });
      try {
        const s = await missAndHit(cache, store, "bench/cache-small", SMALL);
        const l = await missAndHit(cache, store, "bench/cache-large", CACHE_LARGE);
        result.cache = { smallMiss: s.miss, smallHit: s.hit, largeMiss: l.miss, largeHit: l.hit };
      } finally {
        await cache.close();
      }
    } catch (err) {
      result.error = (err as Error).message;
      delete result.put;
      delete result.get;
      progress(`${name}: SoulBox's store failed: ${result.error}`);
    } finally {
      await store.close();
    }
    return result;
  } finally {
    raw.close();
  }
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ms2 = (xs: number[]) => `${f1(quantile(xs, 0.5))} / ${f1(quantile(xs, 0.99))}`;
const ratio = (a: number | undefined, b: number) =>
  a === undefined ? "–" : `${(a / b).toFixed(2)}`;

/** An error message as one short table cell. */
const cell = (text: string) => text.replace(/[|\n]/g, " ").slice(0, 100);

function table(results: Result[]): string {
  const rows = [
    [
      "backend",
      "put MB/s",
      "raw put MB/s",
      "put ratio",
      "get MB/s",
      "raw get MB/s",
      "get ratio",
      "4 KiB get p50 / p99 ms",
      "raw 4 KiB get p50 / p99 ms",
      "cache 4 KiB miss / hit ms",
      "cache 64 MiB miss / hit ms",
    ],
  ];
  for (const r of results)
    rows.push([
      r.name,
      r.put === undefined ? `– (${cell(r.error ?? "not run")})` : f0(r.put),
      f0(r.rawPut),
      ratio(r.put, r.rawPut),
      r.get === undefined ? "–" : f0(r.get),
      f0(r.rawGet),
      ratio(r.get, r.rawGet),
      r.small ? ms2(r.small) : "–",
      ms2(r.rawSmall),
      r.cache ? `${f1(r.cache.smallMiss)} / ${f1(r.cache.smallHit)}` : "–",
      r.cache ? `${f1(r.cache.largeMiss)} / ${f1(r.cache.largeHit)}` : "–",
    ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => "---")), ...rows.slice(1).map(line)].join("\n");
}

// @google-cloud/storage 8 warns of 11 listeners on every streamed download (an upstream issue of
// its HTTP layer, googleapis/google-cloud-node#9185): said once here, not 200 times.
let listenerWarnings = 0;
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (w.name === "MaxListenersExceededWarning" && listenerWarnings++ > 0) return;
  process.stderr.write(`${w.name}: ${w.message}\n`);
});

/** Starts the servers, measures every backend, stops the servers; then prints. */
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-bench-storage-"));
  const env = { ...process.env, SOULBOX_STORAGE_DIR: join(dir, "servers") } as Env;
  progress(`starting the storage servers (e2e/storage/up, state in ${env.SOULBOX_STORAGE_DIR})`);
  const results: Result[] = [];
  const down = () =>
    execFileSync("e2e/storage/down", ["--purge"], { env, stdio: ["ignore", "ignore", "inherit"] });
  // Interrupted (Ctrl-C, a timeout's SIGTERM): the servers go down by pid all the same.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      down();
      rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    });
  try {
    const out = execFileSync("e2e/storage/up", {
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    for (const m of out.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
    for (const name of BACKENDS) results.push(await measure(name, env, join(dir, "cache")));
  } finally {
    progress("stopping the storage servers");
    down();
    await rm(dir, { recursive: true, force: true });
  }

  const ran = results.filter((r) => r.put !== undefined && r.get !== undefined);
  const slowest = (xs: number[]) => (xs.length > 0 ? Math.min(...xs) : 0);
  console.log(
    `Storage, ${LARGE / MIB} MiB objects, ${GETS} gets of 4 KiB; ${availableParallelism()} CPUs, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB; MB = 10^6 bytes; ratio = SoulBox / raw client\n`,
  );
  console.log(table(results));
  console.log(
    `storage: ${ran.length} backends, slowest put ${f0(slowest(ran.map((r) => r.put!)))} MB/s, ` +
      `slowest get ${f0(slowest(ran.map((r) => r.get!)))} MB/s`,
  );
}

await main();
