/**
 * e2e/storage/up and down against the real servers (MinIO for S3 and R2, fake-gcs-server, Azurite)
 * in a state dir of this test's own: the export lines, one put/get per backend with its official
 * SDK, the server features the storage layer relies on, a killed server brought back on its port
 * with its data, idempotence, the start faults (a port taken, a stale pid file, bad arguments),
 * and down stopping every pid. The servers are built by the process tests' global setup.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";

const UP = "e2e/storage/up";
const DOWN = "e2e/storage/down";
const SERVERS = ["s3", "r2", "gcs", "azblob"] as const;
type Server4 = (typeof SERVERS)[number];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of the scripts with SOULBOX_STORAGE_DIR=dir; never throws on a non-zero exit. */
function run(script: string, args: string[], dir: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      script,
      args,
      { env: { ...process.env, SOULBOX_STORAGE_DIR: dir }, timeout: 180_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr: String(stderr) }),
    );
  });
}

/** The `export NAME='value'` lines of up's stdout as a map; any other line fails the test. */
function parseExports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.trimEnd().split("\n")) {
    const m = /^export ([A-Z0-9_]+)='([^']*)'$/.exec(line);
    if (!m) throw new Error(`up printed a line that is not an export: ${JSON.stringify(line)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

const pidOf = async (dir: string, server: Server4) =>
  Number(await readFile(join(dir, `${server}.pid`), "utf8"));

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls until `pid` is gone (a killed server's exit is asynchronous). */
async function gone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (running(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A storage URL's parts: bucket (host), key prefix (path) and query. */
function partsOf(url: string) {
  const u = new URL(url);
  return { bucket: u.hostname, path: u.pathname.replace(/^\//, ""), query: u.searchParams };
}

/** One object written and read back with each backend's official client. */
interface Backend {
  put(key: string, body: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  close(): void;
}

function s3Backend(env: Record<string, string>, kind: "S3" | "R2"): Backend & { client: S3Client } {
  const { bucket, path, query } = partsOf(env[`SOULBOX_STORAGE_${kind}_URL`]!);
  const client = new S3Client({
    endpoint: query.get("endpoint")!,
    region: kind === "R2" ? "auto" : query.get("region")!,
    forcePathStyle: true,
    credentials: JSON.parse(env[`SOULBOX_STORAGE_${kind}_CREDENTIALS`]!),
  });
  return {
    client,
    async put(key, body) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${path}/${key}`, Body: body }),
      );
    },
    async get(key) {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `${path}/${key}` }),
      );
      return Buffer.from(await out.Body!.transformToByteArray());
    },
    close: () => client.destroy(),
  };
}

function gcsBackend(env: Record<string, string>): Backend {
  const { bucket, path, query } = partsOf(env.SOULBOX_STORAGE_GCS_URL!);
  const storage = new Storage({
    apiEndpoint: query.get("endpoint")!,
    projectId: query.get("project")!,
  });
  const file = (key: string) => storage.bucket(bucket).file(`${path}/${key}`);
  return {
    put: (key, body) => file(key).save(body, { resumable: false }),
    get: async (key) => (await file(key).download())[0],
    close: () => {},
  };
}

function azBackend(env: Record<string, string>): Backend {
  const u = new URL(env.SOULBOX_STORAGE_AZBLOB_URL!);
  const [container, ...prefix] = u.pathname.replace(/^\//, "").split("/");
  const creds = JSON.parse(env.SOULBOX_STORAGE_AZBLOB_CREDENTIALS!);
  const service = new BlobServiceClient(
    u.searchParams.get("endpoint")!,
    new StorageSharedKeyCredential(creds.accountName, creds.accountKey),
  );
  const blob = (key: string) =>
    service.getContainerClient(container!).getBlockBlobClient(`${prefix.join("/")}/${key}`);
  return {
    put: async (key, body) => void (await blob(key).uploadData(body)),
    get: (key) => blob(key).downloadToBuffer(),
    close: () => {},
  };
}

const backendFor = (server: Server4, env: Record<string, string>): Backend =>
  server === "s3"
    ? s3Backend(env, "S3")
    : server === "r2"
      ? s3Backend(env, "R2")
      : server === "gcs"
        ? gcsBackend(env)
        : azBackend(env);

let dir: string;
let env: Record<string, string>;
let firstUp: Run;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "soulbox-storage-test-"));
  firstUp = await run(UP, [], dir);
  if (firstUp.code !== 0) throw new Error(`up failed (${firstUp.code}): ${firstUp.stderr}`);
  env = parseExports(firstUp.stdout);
}, 240_000);

afterAll(async () => {
  // Whatever a failed test left running is stopped by pid; the state dir goes with it.
  if (dir) await run(DOWN, ["--purge"], dir);
}, 60_000);

describe("e2e/storage/up", () => {
  test("prints only export lines: each backend's URL and credentials, as the contract has them", () => {
    expect(Object.keys(env).sort()).toEqual(
      [
        "SOULBOX_STORAGE_DIR",
        ...["S3", "R2", "GCS", "AZBLOB"].flatMap((b) => [
          `SOULBOX_STORAGE_${b}_URL`,
          `SOULBOX_STORAGE_${b}_CREDENTIALS`,
        ]),
        "SOULBOX_STORAGE_FILE_URL",
      ].sort(),
    );
    expect(env.SOULBOX_STORAGE_DIR).toBe(dir);
    const port = String.raw`http://127\.0\.0\.1:\d+`;
    expect(env.SOULBOX_STORAGE_S3_URL).toMatch(
      new RegExp(
        `^s3://soulbox-test/conformance\\?endpoint=${port}&region=us-east-1&pathStyle=true$`,
      ),
    );
    expect(env.SOULBOX_STORAGE_R2_URL).toMatch(
      new RegExp(`^r2://soulbox-test-r2/conformance\\?endpoint=${port}$`),
    );
    expect(env.SOULBOX_STORAGE_GCS_URL).toMatch(
      new RegExp(`^gs://soulbox-test/conformance\\?endpoint=${port}&project=soulbox-test$`),
    );
    expect(env.SOULBOX_STORAGE_AZBLOB_URL).toMatch(
      new RegExp(
        `^azblob://devstoreaccount1/soulbox-test/conformance\\?endpoint=${port}/devstoreaccount1$`,
      ),
    );
    expect(env.SOULBOX_STORAGE_FILE_URL).toBe(`file://${dir}/files/conformance`);
    expect(existsSync(`${dir}/files/conformance`)).toBe(true);
    // The credentials' keys are the production Secret's keys.
    for (const b of ["S3", "R2"])
      expect(Object.keys(JSON.parse(env[`SOULBOX_STORAGE_${b}_CREDENTIALS`]!)).sort()).toEqual([
        "accessKeyId",
        "secretAccessKey",
      ]);
    expect(JSON.parse(env.SOULBOX_STORAGE_GCS_CREDENTIALS!)).toEqual({});
    expect(Object.keys(JSON.parse(env.SOULBOX_STORAGE_AZBLOB_CREDENTIALS!)).sort()).toEqual([
      "accountKey",
      "accountName",
    ]);
    // S3 and R2 are separate servers with separate credentials.
    expect(env.SOULBOX_STORAGE_S3_CREDENTIALS).not.toBe(env.SOULBOX_STORAGE_R2_CREDENTIALS);
    expect(partsOf(env.SOULBOX_STORAGE_S3_URL!).query.get("endpoint")).not.toBe(
      partsOf(env.SOULBOX_STORAGE_R2_URL!).query.get("endpoint"),
    );
  });

  test.each(SERVERS)("%s: an object put with the official SDK reads back", async (server) => {
    const backend = backendFor(server, env);
    try {
      const body = Buffer.from(`hello from ${server}`);
      await backend.put("servers-test/hello", body);
      expect((await backend.get("servers-test/hello")).equals(body)).toBe(true);
    } finally {
      backend.close();
    }
  });

  test("R2's server takes R2's region `auto` and refuses S3's credentials", async () => {
    const r2 = s3Backend(env, "R2");
    const wrong = new S3Client({
      endpoint: partsOf(env.SOULBOX_STORAGE_R2_URL!).query.get("endpoint")!,
      region: "auto",
      forcePathStyle: true,
      credentials: JSON.parse(env.SOULBOX_STORAGE_S3_CREDENTIALS!),
    });
    try {
      await r2.put("servers-test/region", Buffer.from("auto"));
      await expect(
        wrong.send(
          new GetObjectCommand({
            Bucket: "soulbox-test-r2",
            Key: "conformance/servers-test/region",
          }),
        ),
      ).rejects.toMatchObject({ name: "InvalidAccessKeyId" });
    } finally {
      r2.close();
      wrong.destroy();
    }
  });
});

describe("the server features lib/storage relies on", () => {
  test.each(["S3", "R2"] as const)(
    "%s: conditional PUT and CompleteMultipartUpload (If-None-Match: *), ranged GET, ListObjectsV2 pages",
    async (kind) => {
      const { client, close } = s3Backend(env, kind);
      const { bucket, path } = partsOf(env[`SOULBOX_STORAGE_${kind}_URL`]!);
      const folder = `${path}/features/${Date.now()}/`;
      const key = `${folder}obj`;
      try {
        const put = () =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: "0123456789",
              IfNoneMatch: "*",
            }),
          );
        await put();
        await expect(put()).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });

        const ranged = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=2-4" }),
        );
        expect(await ranged.Body!.transformToString()).toBe("234");

        // Two multipart uploads of the same key: the second complete finds the first's object.
        const multipart = async () => {
          const { UploadId } = await client.send(
            new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${key}.mp` }),
          );
          const part = await client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: `${key}.mp`,
              UploadId,
              PartNumber: 1,
              Body: Buffer.alloc(1024, 1),
            }),
          );
          return client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: `${key}.mp`,
              UploadId,
              IfNoneMatch: "*",
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
            }),
          );
        };
        await multipart();
        await expect(multipart()).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });

        // MinIO answers MaxKeys=1 with a prefix that is itself a whole key with that object
        // alone and IsTruncated false (a shortcut of its own), so the prefix here is a folder.
        const first = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, MaxKeys: 1 }),
        );
        expect(first.Contents?.map((o) => o.Key)).toEqual([key]);
        expect(first.IsTruncated).toBe(true);
        const second = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: folder,
            MaxKeys: 1,
            ContinuationToken: first.NextContinuationToken!,
          }),
        );
        expect(second.Contents?.map((o) => o.Key)).toEqual([`${key}.mp`]);
        expect(second.IsTruncated).toBe(false);
      } finally {
        close();
      }
    },
  );

  test("GCS: ifGenerationMatch=0 creates once, then 412; ranged reads; resumable uploads", async () => {
    const { bucket, path, query } = partsOf(env.SOULBOX_STORAGE_GCS_URL!);
    const storage = new Storage({ apiEndpoint: query.get("endpoint")!, projectId: "soulbox-test" });
    const file = storage.bucket(bucket).file(`${path}/features/${Date.now()}`);
    const save = () =>
      file.save("0123456789", { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } });
    await save();
    await expect(save()).rejects.toMatchObject({ code: 412 });
    const [range] = await file.download({ start: 2, end: 4 });
    expect(range.toString()).toBe("234");
  });

  test("Azure: If-None-Match: * creates once, then 409; ranged reads", async () => {
    const u = new URL(env.SOULBOX_STORAGE_AZBLOB_URL!);
    const creds = JSON.parse(env.SOULBOX_STORAGE_AZBLOB_CREDENTIALS!);
    const service = new BlobServiceClient(
      u.searchParams.get("endpoint")!,
      new StorageSharedKeyCredential(creds.accountName, creds.accountKey),
    );
    const blob = service
      .getContainerClient("soulbox-test")
      .getBlockBlobClient(`conformance/features/${Date.now()}`);
    const put = () => blob.upload("0123456789", 10, { conditions: { ifNoneMatch: "*" } });
    await put();
    await expect(put()).rejects.toMatchObject({ statusCode: 409 });
    expect((await blob.downloadToBuffer(2, 3)).toString()).toBe("234");
  });
});

describe("restarts and faults", () => {
  test("up again while every server runs leaves them alone and prints the same lines", async () => {
    const pids = await Promise.all(SERVERS.map((s) => pidOf(dir, s)));
    const again = await run(UP, [], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(firstUp.stdout);
    expect(await Promise.all(SERVERS.map((s) => pidOf(dir, s)))).toEqual(pids);
  });

  test.each(SERVERS)(
    "%s: killed by pid, up brings it back on the same port with its data",
    async (server) => {
      const before = await pidOf(dir, server);
      process.kill(before, "SIGKILL");
      await gone(before);
      const again = await run(UP, [], dir);
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(firstUp.stdout);
      const after = await pidOf(dir, server);
      expect(after).not.toBe(before);
      expect(running(after)).toBe(true);
      const backend = backendFor(server, env);
      try {
        expect((await backend.get("servers-test/hello")).toString()).toBe(`hello from ${server}`);
      } finally {
        backend.close();
      }
    },
  );

  test("a pid file naming another live process does not count as the server", async () => {
    const pid = await pidOf(dir, "gcs");
    process.kill(pid, "SIGKILL");
    await gone(pid);
    // This test's own pid: alive, but not fake-gcs-server of this state dir.
    await writeFile(join(dir, "gcs.pid"), String(process.pid));
    const again = await run(UP, [], dir);
    expect(again.code).toBe(0);
    const started = await pidOf(dir, "gcs");
    expect(started).not.toBe(process.pid);
    expect(running(started)).toBe(true);
  });

  test("a port taken by another program: up fails naming the server and its log", async () => {
    const other = await mkdtemp(join(tmpdir(), "soulbox-storage-taken-"));
    // A listener that answers no HTTP: MinIO cannot bind, and the poll cannot mistake it.
    const taken: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      await writeFile(join(other, "s3.port"), `${port}\n`);
      const failed = await run(UP, [], other);
      expect(failed.code).not.toBe(0);
      expect(failed.stdout).toBe("");
      expect(failed.stderr).toContain(`s3 exited while starting; see ${other}/logs/s3.log`);
    } finally {
      taken.close();
      await run(DOWN, ["--purge"], other);
      await rm(other, { recursive: true, force: true });
    }
  });

  test("down kills a server that ignores SIGTERM after 10 s, and returns once it is gone", async () => {
    const other = await mkdtemp(join(tmpdir(), "soulbox-storage-stubborn-"));
    // A stand-in server: ignores SIGTERM; its command line names the state dir, as a real one's does.
    const stubborn = spawn(
      "sh",
      ["-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done", `${other}/s3/data`],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      await once(stubborn.stdout!, "data");
      await writeFile(join(other, "s3.pid"), String(stubborn.pid));
      const exited = once(stubborn, "exit");
      const started = Date.now();
      const down = await run(DOWN, [], other);
      expect(down.code).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
      expect(down.stderr).toContain(`pid ${stubborn.pid} did not exit within 10 s of SIGTERM`);
      expect(await exited).toEqual([null, "SIGKILL"]);
      expect(existsSync(join(other, "s3.pid"))).toBe(false);
    } finally {
      stubborn.kill("SIGKILL");
      await rm(other, { recursive: true, force: true });
    }
  }, 30_000);

  test.each([
    [UP, ["--bogus"], /up takes no arguments/],
    [DOWN, ["--bogus"], /down takes only --purge/],
    [DOWN, ["--purge", "extra"], /down takes only --purge/],
  ])("%s %j is refused with exit 2", async (script, args, message) => {
    const r = await run(script, args, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test.each([UP, DOWN, "e2e/storage/build"])("%s --help prints its header", async (script) => {
    const r = await run(script, ["--help"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SOULBOX_STORAGE_DIR|Usage: e2e\/storage\/build/);
  });
});

describe("e2e/storage/down", () => {
  test("stops every server by pid and keeps the data; --purge removes the state dir", async () => {
    const pids = await Promise.all(SERVERS.map((s) => pidOf(dir, s)));
    expect(pids.every(running)).toBe(true);
    const down = await run(DOWN, [], dir);
    expect(down.code).toBe(0);
    // down returns only once they are gone.
    expect(pids.filter(running)).toEqual([]);
    for (const s of SERVERS) expect(existsSync(join(dir, `${s}.pid`))).toBe(false);
    expect(existsSync(join(dir, "s3", "data"))).toBe(true);
    // Nothing runs: down again is a no-op.
    expect((await run(DOWN, [], dir)).code).toBe(0);
    expect((await run(DOWN, ["--purge"], dir)).code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
