import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";

import { openObjectStore } from "./index.js";
import { isStorageError, type ObjectStore } from "./object-store.js";

let dir: string;
let store: ObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "soulbox-store-"));
  store = await openObjectStore(`file://${dir}`);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function drain(stream: Readable): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const c of stream) bytes += (c as Buffer).length;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

async function blobOf(key: string): Promise<string> {
  return join(dir, (JSON.parse(await readFile(join(dir, key), "utf8")) as { blob: string }).blob);
}

/** How many of this process's open file descriptors point at `path`. */
async function openFdsOf(path: string): Promise<number> {
  const { readdir, readlink } = await import("node:fs/promises");
  const fds = await readdir("/proc/self/fd");
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")),
  );
  return targets.filter((t) => t === path).length;
}

describe("the store over the file driver", () => {
  it.each([
    ["whole", undefined],
    ["ranged", { start: 1, end: 3 }],
  ])("%s: a get destroyed before its first read closes the blob's file", async (_n, range) => {
    await store.put("k", Buffer.from("hello"));
    const blob = await blobOf("k");
    const stream = await store.get("k", range ? { range } : {});
    expect(await openFdsOf(blob)).toBe(1);
    const closed = new Promise((resolve) => stream.once("close", resolve));
    stream.destroy();
    await closed;
    for (let i = 0; i < 100 && (await openFdsOf(blob)) > 0; i++)
      await new Promise((r) => setImmediate(r));
    expect(await openFdsOf(blob)).toBe(0);
  });

  it.each(["", "/abs", ".blobs/x", "a/../b"])(
    "refuses the key %j before writing anything",
    async (key) => {
      await expect(store.put(key, Buffer.from("x"))).rejects.toMatchObject({
        code: "InvalidArgument",
      });
      expect((await store.list("")).objects).toEqual([]);
    },
  );

  it("refuses bad metadata and a malformed expected sha256", async () => {
    await expect(
      store.put("k", Buffer.from("x"), { metadata: { Bad: "x" } }),
    ).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(store.put("k", Buffer.from("x"), { expectedSha256: "xyz" })).rejects.toMatchObject(
      { code: "InvalidArgument" },
    );
  });

  it("an already aborted signal writes nothing", async () => {
    await expect(
      store.put("k", Buffer.from("x"), { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: "Aborted" });
    await expect(store.head("k")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("a body that fails fails the put and leaves nothing", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(1000);
      throw new Error("the source broke");
    }
    await expect(store.put("k", failing())).rejects.toThrow(/the source broke/);
    await expect(store.head("k")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("a corrupt manifest is IntegrityMismatch for head, skipped by list, removed by delete", async () => {
    await store.put("ok", Buffer.from("ok"));
    await writeFile(join(dir, "bad"), "{not json");
    await expect(store.head("bad")).rejects.toMatchObject({ code: "IntegrityMismatch" });
    expect((await store.list("")).objects.map((o) => o.key)).toEqual(["ok"]);
    await store.delete("bad");
    await expect(store.head("bad")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("a manifest whose blob is gone is IntegrityMismatch, not NotFound", async () => {
    await store.put("k", Buffer.from("data"));
    await unlink(await blobOf("k"));
    await expect(store.get("k")).rejects.toMatchObject({ code: "IntegrityMismatch" });
  });

  it("a truncated blob fails the whole get and a range that reaches past its end", async () => {
    await store.put("k", randomBytes(10_000));
    await truncate(await blobOf("k"), 5000);
    const whole = await drain(await store.get("k"));
    expect(isStorageError(whole.error, "IntegrityMismatch")).toBe(true);
    expect(whole.bytes).toBeLessThan(5000);
    const range = await drain(await store.get("k", { range: { start: 4000, end: 6000 } }));
    expect(isStorageError(range.error, "IntegrityMismatch")).toBe(true);
  });

  it("an abort mid-get ends the stream with Aborted", async () => {
    await store.put("k", randomBytes(8 * 1024 * 1024));
    const ac = new AbortController();
    const stream = await store.get("k", { signal: ac.signal });
    let bytes = 0;
    let error: unknown;
    try {
      for await (const c of stream) {
        bytes += (c as Buffer).length;
        ac.abort();
      }
    } catch (e) {
      error = e;
    }
    expect(isStorageError(error, "Aborted")).toBe(true);
    expect(bytes).toBeLessThan(8 * 1024 * 1024);
  });

  it("a file store cannot keep both a and a/b, and says so", async () => {
    await store.put("a", Buffer.from("a"));
    await expect(store.put("a/b", Buffer.from("b"))).rejects.toMatchObject({
      code: "InvalidArgument",
    });
  });
});
