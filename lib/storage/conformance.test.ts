/**
 * The storage conformance table: the same cases against every backend, on real servers that
 * e2e/storage/up starts in this test's own state dir (MinIO for S3 and R2, fake-gcs-server,
 * Azurite, a directory for file://). The backends are the ones `up` printed; `up` missing would
 * leave the file backend alone, and `up` failing fails the run. Each round trip runs in the clear
 * and encrypted; the 1 GiB round trip runs once per backend in the clear, streamed from a
 * generator and hashed on the fly, with the process's peak RSS printed and bounded.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";

import { parseStorageUrl } from "./config.js";
import {
  createKeyring,
  openDriver,
  openObjectStore,
  sweepOrphanBlobs,
  type Keyring,
} from "./index.js";
import { isStorageError, type ObjectStore, type StorageErrorCode } from "./object-store.js";

const ROOT = join(import.meta.dirname, "../..");
const UP = join(ROOT, "e2e/storage/up");
const DOWN = join(ROOT, "e2e/storage/down");
const HAVE_UP = existsSync(UP);
const MiB = 1024 * 1024;

type Backend = "s3" | "r2" | "gcs" | "azblob" | "file";
const BACKENDS: Backend[] = HAVE_UP ? ["s3", "r2", "gcs", "azblob", "file"] : ["file"];

let stateDir = "";
let env: Record<string, string> = {};

function run(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      script,
      args,
      { env: { ...process.env, SOULBOX_STORAGE_DIR: stateDir }, timeout: 600_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr: String(stderr) }),
    );
  });
}

/** up's `export NAME='value'` lines. */
function parseExports(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split("\n")) {
    const m = /^export ([A-Z0-9_]+)='((?:[^']|'\\'')*)'$/.exec(line);
    if (!m)
      throw new Error(
        `e2e/storage/up printed a line that is not an export: ${JSON.stringify(line)}`,
      );
    out[m[1]!] = m[2]!.replaceAll("'\\''", "'");
  }
  return out;
}

async function up(): Promise<void> {
  const r = await run(UP, []);
  if (r.code !== 0) throw new Error(`e2e/storage/up failed (${r.code}):\n${r.stderr}`);
  env = parseExports(r.stdout);
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "soulbox-conformance-"));
  if (HAVE_UP) await up();
  else env = { SOULBOX_STORAGE_FILE_URL: `file://${stateDir}/files/conformance` };
}, 600_000);

afterAll(async () => {
  if (HAVE_UP) {
    const r = await run(DOWN, ["--purge"]);
    if (r.code !== 0) throw new Error(`e2e/storage/down failed:\n${r.stderr}`);
  }
  await rm(stateDir, { recursive: true, force: true });
}, 120_000);

const ENV_NAME: Record<Backend, string> = {
  s3: "S3",
  r2: "R2",
  gcs: "GCS",
  azblob: "AZBLOB",
  file: "FILE",
};

/** The backend's URL with a fresh sub-prefix, so every case starts from an empty store. */
function urlFor(backend: Backend, sub: string): string {
  const url = env[`SOULBOX_STORAGE_${ENV_NAME[backend]}_URL`];
  if (!url) throw new Error(`e2e/storage/up printed no URL for ${backend}`);
  const q = url.indexOf("?");
  const [base, query] = q < 0 ? [url, ""] : [url.slice(0, q), url.slice(q)];
  return `${base.replace(/\/+$/, "")}/${sub}-${randomUUID().slice(0, 8)}${query}`;
}

function credentialsFor(backend: Backend): Record<string, string> | undefined {
  const json = env[`SOULBOX_STORAGE_${ENV_NAME[backend]}_CREDENTIALS`];
  return json ? (JSON.parse(json) as Record<string, string>) : undefined;
}

const open: ObjectStore[] = [];
async function storeFor(
  backend: Backend,
  sub: string,
  options: { keyring?: Keyring; credentials?: Record<string, string>; url?: string } = {},
): Promise<ObjectStore & { url: string }> {
  const url = options.url ?? urlFor(backend, sub);
  const credentials = options.credentials ?? credentialsFor(backend);
  const store = await openObjectStore(url, {
    ...(credentials ? { credentials } : {}),
    ...(options.keyring ? { keyring: options.keyring } : {}),
  });
  open.push(store);
  return Object.assign(store, { url });
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** The driver under a store's URL: the plain provider SDK, to reach under the store. */
async function rawDriver(backend: Backend, url: string) {
  return openDriver(parseStorageUrl(url), credentialsFor(backend) ?? {});
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Reads a stream to its end or error, keeping what arrived before the error. */
async function readUntilError(stream: Readable): Promise<{ bytes: Buffer; error?: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const c of stream) parts.push(c as Buffer);
    return { bytes: Buffer.concat(parts) };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
}

async function expectCode(p: Promise<unknown>, code: StorageErrorCode): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!isStorageError(err, code))
    throw new Error(
      `expected StorageError ${code}, got ${err instanceof Error ? `${err.name} ${(err as { code?: string }).code}: ${err.message}` : String(err)}`,
    );
  return err;
}

/** `size` bytes that differ per MiB, from a generator (never all in memory). */
async function* generated(
  size: number,
  seed: Buffer,
  onChunk?: (sent: number) => void | Promise<void>,
): AsyncGenerator<Uint8Array> {
  let sent = 0;
  let i = 0;
  while (sent < size) {
    const n = Math.min(MiB, size - sent);
    const chunk = Buffer.from(seed.subarray(0, n));
    chunk.writeUInt32BE(i++, 0);
    sent += n;
    yield chunk;
    await onChunk?.(sent);
  }
}

function keyring(): Keyring {
  return createKeyring({ k1: randomBytes(32) }, "k1");
}

const MODES = [
  ["clear", () => undefined],
  ["encrypted", keyring],
] as const;

async function blobNames(backend: Backend, url: string): Promise<string[]> {
  const d = await rawDriver(backend, url);
  try {
    const page = await d.listPage(".blobs/", 1000);
    return page.entries.map((e) => e.name);
  } finally {
    await d.close();
  }
}

describe.each(BACKENDS)("%s", (backend) => {
  describe.each(MODES)("%s", (_mode, makeKeyring) => {
    it.each([0, 1, 5 * MiB + 1])("round-trips %d bytes", async (size) => {
      const kr = makeKeyring();
      const store = await storeFor(backend, "rt", kr ? { keyring: kr } : {});
      const data = randomBytes(size);
      const progress: number[] = [];
      const info = await store.put("obj/x", data, {
        metadata: { kind: "test" },
        onProgress: (n) => progress.push(n),
      });
      const sha256 = createHash("sha256").update(data).digest("hex");
      expect(info).toMatchObject({ key: "obj/x", size, sha256, metadata: { kind: "test" } });
      expect(info.keyId).toBe(kr ? "k1" : undefined);
      expect(progress.at(-1) ?? 0).toBe(size);
      expect(await store.head("obj/x")).toEqual(info);
      expect((await readAll(await store.get("obj/x"))).equals(data)).toBe(true);
      await store.delete("obj/x");
      await expectCode(store.head("obj/x"), "NotFound");
      expect(await blobNames(backend, store.url)).toEqual([]);
    });

    it("reads ranges: start, middle, end, empty; past the end is refused", async () => {
      const kr = makeKeyring();
      const store = await storeFor(backend, "range", kr ? { keyring: kr } : {});
      const data = randomBytes(200_000);
      await store.put("r", data);
      for (const [start, end] of [
        [0, 10],
        [70_000, 140_001],
        [199_990, undefined],
        [65_536, 65_536],
        [200_000, undefined],
      ] as const) {
        const got = await readAll(
          await store.get("r", { range: end === undefined ? { start } : { start, end } }),
        );
        expect(got.equals(data.subarray(start, end))).toBe(true);
      }
      const err = await expectCode(
        store.get("r", { range: { start: 200_001 } }),
        "InvalidArgument",
      );
      expect(err.message).toMatch(/past the end/);
      await expectCode(store.get("r", { range: { start: 10, end: 200_001 } }), "InvalidArgument");
    });

    it("refuses a corrupted object and hands on no final chunk", async () => {
      const kr = makeKeyring();
      const store = await storeFor(backend, "corrupt", kr ? { keyring: kr } : {});
      const data = randomBytes(300_000);
      await store.put("c", data);
      const driver = await rawDriver(backend, store.url);
      try {
        const manifest = JSON.parse(Buffer.from(await driver.getSmall("c", 65536)).toString()) as {
          blob: string;
        };
        const blob = await readAll(await driver.download(manifest.blob));
        blob[150_000]! ^= 0xff;
        await driver.putSmall(manifest.blob, blob, false);
      } finally {
        await driver.close();
      }
      const { bytes, error } = await readUntilError(await store.get("c"));
      expect(isStorageError(error, "IntegrityMismatch")).toBe(true);
      expect(bytes.length).toBeLessThan(data.length);
      expect(data.subarray(0, bytes.length).equals(bytes) || kr === undefined).toBe(true);
    });
  });

  it("round-trips 1 GiB in bounded memory", async () => {
    const store = await storeFor(backend, "big");
    const size = 1024 * MiB;
    const seed = randomBytes(MiB);
    const want = createHash("sha256");
    for await (const c of generated(size, seed)) want.update(c);
    const sha256 = want.digest("hex");
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const t0 = Date.now();
      const info = await store.put("big", generated(size, seed));
      const t1 = Date.now();
      expect(info).toMatchObject({ size, sha256 });
      const got = createHash("sha256");
      let n = 0;
      for await (const c of await store.get("big")) {
        got.update(c as Buffer);
        n += (c as Buffer).length;
      }
      expect(n).toBe(size);
      expect(got.digest("hex")).toBe(sha256);
      const t2 = Date.now();
      console.log(
        `${backend}: 1 GiB put ${t1 - t0} ms, get ${t2 - t1} ms, rss before ${Math.round(before / MiB)} MiB, peak ${Math.round(peak / MiB)} MiB (+${Math.round((peak - before) / MiB)} MiB)`,
      );
      expect(peak - before).toBeLessThan(400 * MiB);
    } finally {
      clearInterval(sampler);
      await store.delete("big");
    }
  }, 240_000);

  it("lists across pages by prefix, without blobs", async () => {
    const store = await storeFor(backend, "list");
    for (const k of ["list/e", "list/a", "list/c", "list/b", "list/d", "other/x"])
      await store.put(k, Buffer.from(k));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list("list/", { pageSize: 2, ...(cursor ? { cursor } : {}) });
      expect(page.objects.length).toBeLessThanOrEqual(2);
      seen.push(...page.objects.map((o) => o.key));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(["list/a", "list/b", "list/c", "list/d", "list/e"]);
    expect(pages).toBeGreaterThanOrEqual(3);
    const all: string[] = [];
    cursor = undefined;
    do {
      const page = await store.list("", { pageSize: 2, ...(cursor ? { cursor } : {}) });
      all.push(...page.objects.map((o) => o.key));
      cursor = page.cursor;
    } while (cursor);
    expect(all).toEqual(["list/a", "list/b", "list/c", "list/d", "list/e", "other/x"]);
    expect((await store.list("list/c")).objects.map((o) => [o.key, o.size])).toEqual([
      ["list/c", 6],
    ]);
    expect(await store.list("nothing/")).toEqual({ objects: [] });
  });

  it("conditional create: the second put fails AlreadyExists and the first object is intact", async () => {
    const store = await storeFor(backend, "cond");
    const first = await store.put("snap", Buffer.from("first"), { ifNotExists: true });
    const err = await expectCode(
      store.put("snap", Buffer.from("second"), { ifNotExists: true }),
      "AlreadyExists",
    );
    expect(err.message).toMatch(/already committed/);
    expect(await store.head("snap")).toEqual(first);
    expect((await readAll(await store.get("snap"))).toString()).toBe("first");
    expect(await blobNames(backend, store.url)).toHaveLength(1);
    // Without the condition a put replaces the object, and the replaced blob goes.
    await store.put("snap", Buffer.from("third"));
    expect((await readAll(await store.get("snap"))).toString()).toBe("third");
    expect(await blobNames(backend, store.url)).toHaveLength(1);
  });

  it("a missing key is NotFound for head and get; delete of it is fine", async () => {
    const store = await storeFor(backend, "missing");
    await expectCode(store.head("nope"), "NotFound");
    await expectCode(store.get("nope"), "NotFound");
    await expect(store.delete("nope")).resolves.toBeUndefined();
  });

  it("an expected sha256 that does not match commits nothing", async () => {
    const store = await storeFor(backend, "expect");
    await expectCode(
      store.put("e", Buffer.from("abc"), { expectedSha256: "0".repeat(64) }),
      "IntegrityMismatch",
    );
    await expectCode(store.head("e"), "NotFound");
    expect(await blobNames(backend, store.url)).toEqual([]);
  });

  it("an abort mid-upload leaves nothing; a retry works", async () => {
    const store = await storeFor(backend, "abort");
    const ac = new AbortController();
    const seed = randomBytes(MiB);
    const body = generated(64 * MiB, seed, (sent) => {
      if (sent === 20 * MiB) ac.abort();
    });
    await expectCode(store.put("a", body, { signal: ac.signal }), "Aborted");
    await expectCode(store.head("a"), "NotFound");
    expect(await blobNames(backend, store.url)).toEqual([]);
    if (backend === "file") {
      const dir = parseStorageUrl(store.url);
      const leftovers = await readdir((dir as { path: string }).path, { recursive: true });
      expect(leftovers.filter((n) => n.includes(".tmp-"))).toEqual([]);
    }
    const info = await store.put("a", generated(8 * MiB, seed));
    expect(info.size).toBe(8 * MiB);
  });

  it("sweeps orphaned blobs, and only those", async () => {
    const store = await storeFor(backend, "sweep");
    await store.put("kept", Buffer.from("kept"));
    const driver = await rawDriver(backend, store.url);
    try {
      await driver.upload(`.blobs/${randomUUID()}`, generated(1000, randomBytes(1000)));
    } finally {
      await driver.close();
    }
    expect(await blobNames(backend, store.url)).toHaveLength(2);
    // Younger than the cutoff: left alone (it could be an upload still running).
    expect(await sweepOrphanBlobs(store, { olderThanMs: 3_600_000 })).toEqual([]);
    const swept = await sweepOrphanBlobs(store, {
      olderThanMs: 0,
      now: new Date(Date.now() + 60_000),
    });
    expect(swept).toHaveLength(1);
    expect(await blobNames(backend, store.url)).toHaveLength(1);
    expect((await readAll(await store.get("kept"))).toString()).toBe("kept");
  });

  it("encrypted objects are unreadable without their key and readable after rotation", async () => {
    const k1 = randomBytes(32);
    const url = urlFor(backend, "keys");
    const old = await storeFor(backend, "", { url, keyring: createKeyring({ k1 }, "k1") });
    const data = randomBytes(100_000);
    await old.put("old", data);
    const stored = await blobNames(backend, url);
    const driver = await rawDriver(backend, url);
    try {
      // At rest it is ciphertext: no 32-byte run of the plaintext shows up.
      const raw = await readAll(await driver.download(stored[0]!));
      expect(raw.includes(data.subarray(5000, 5032))).toBe(false);
    } finally {
      await driver.close();
    }
    const none = await storeFor(backend, "", { url });
    expect((await none.head("old")).keyId).toBe("k1");
    await expectCode(none.get("old"), "KeyUnavailable");
    const other = await storeFor(backend, "", {
      url,
      keyring: createKeyring({ k1: randomBytes(32) }, "k1"),
    });
    await expectCode(other.get("old"), "KeyUnavailable");
    // Rotation: a new active key; the old object still reads with k1, new ones use k2.
    const rotated = await storeFor(backend, "", {
      url,
      keyring: createKeyring({ k1, k2: randomBytes(32) }, "k2"),
    });
    expect((await readAll(await rotated.get("old"))).equals(data)).toBe(true);
    expect((await rotated.put("new", Buffer.from("n"))).keyId).toBe("k2");
    expect((await readAll(await rotated.get("new"))).toString()).toBe("n");
  });

  it("wrong credentials are Unauthorized and write nothing", async () => {
    if (backend === "file") {
      // No credentials here: a path that cannot be a directory is the file store's refusal.
      const file = join(stateDir, `not-a-dir-${randomUUID()}`);
      await writeFile(file, "x");
      const err = await expectCode(openObjectStore(`file://${file}/store`), "InvalidConfig");
      expect(err.message).toMatch(/not a directory/);
      return;
    }
    const good = await storeFor(backend, "creds");
    if (backend === "gcs") {
      // fake-gcs-server authenticates nobody, and a real service account key would send the
      // client to Google's token endpoint: here only a key that cannot be a key is checked.
      const err = await expectCode(
        storeFor(backend, "", {
          url: good.url,
          credentials: { serviceAccountJson: '{"client_email":"x"' },
        }),
        "InvalidConfig",
      );
      expect(err.message).toMatch(/serviceAccountJson is not JSON/);
      return;
    }
    const bad: Record<string, string> =
      backend === "azblob"
        ? { ...credentialsFor(backend)!, accountKey: randomBytes(64).toString("base64") }
        : { ...credentialsFor(backend)!, secretAccessKey: "wrong-secret-key" };
    try {
      const store = await storeFor(backend, "", { url: good.url, credentials: bad });
      const err = await expectCode(store.put("x", Buffer.from("x")), "Unauthorized");
      expect(err.message).not.toMatch(/wrong-secret-key/);
      await expectCode(store.head("x"), "Unauthorized");
      await expectCode(good.head("x"), "NotFound");
      expect(await blobNames(backend, good.url)).toEqual([]);
    } finally {
      await good.close();
    }
  });

  if (backend !== "file") {
    it("a server killed mid-upload: the put fails Unavailable, nothing is visible, a retry works", async () => {
      const store = await storeFor(backend, "kill");
      const pid = Number(await readFile(join(stateDir, `${backend}.pid`), "utf8"));
      const seed = randomBytes(MiB);
      const body = generated(96 * MiB, seed, (sent) => {
        if (sent === 24 * MiB) process.kill(pid, "SIGKILL");
      });
      const err = await expectCode(store.put("k", body), "Unavailable");
      expect(err.message).toMatch(/unavailable/);
      await up();
      await expectCode(store.head("k"), "NotFound");
      const info = await store.put("k", generated(16 * MiB, seed));
      expect(info.size).toBe(16 * MiB);
      const got = createHash("sha256");
      for await (const c of await store.get("k")) got.update(c as Buffer);
      expect(got.digest("hex")).toBe(info.sha256);
    }, 180_000);
  }
});
