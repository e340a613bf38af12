import { randomBytes } from "node:crypto";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  TAG_BYTES,
  chunkCount,
  createKeyring,
  decryptChunks,
  encryptChunks,
  encryptedSize,
  loadKeyring,
  mapRange,
  newDataKey,
  unwrapDataKey,
} from "./encryption.js";
import { isStorageError } from "./object-store.js";

const CHUNK = 1024;

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

function setup() {
  const keyring = createKeyring({ k1: randomBytes(32) }, "k1");
  const { dataKey, encryption } = newDataKey(keyring, "obj", CHUNK);
  return { keyring, dataKey, encryption };
}

describe("chunk framing", () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])(
    "%d bytes round-trip in chunks, whatever the input's pieces",
    async (size) => {
      const { dataKey, encryption } = setup();
      const plain = randomBytes(size);
      const sealed = await collect(encryptChunks(pieces(plain, 333), dataKey, encryption));
      expect(sealed.length).toBe(encryptedSize(size, CHUNK));
      expect(sealed.length).toBe(size + TAG_BYTES * chunkCount(size, CHUNK));
      const total = chunkCount(size, CHUNK);
      const opened = await collect(
        decryptChunks(pieces(sealed, 500), dataKey, encryption, 0, total - 1, total),
      );
      expect(opened.equals(plain)).toBe(true);
    },
  );

  async function openAll(
    sealed: Buffer,
    size: number,
    dataKey: Buffer,
    enc: ReturnType<typeof setup>["encryption"],
  ) {
    const total = chunkCount(size, CHUNK);
    return collect(decryptChunks(once(sealed), dataKey, enc, 0, total - 1, total));
  }

  it.each<[string, (sealed: Buffer) => Buffer]>([
    [
      "a flipped byte",
      (s) => Buffer.concat([s.subarray(0, 10), Buffer.from([s[10]! ^ 1]), s.subarray(11)]),
    ],
    ["the last chunk dropped", (s) => s.subarray(0, 2 * (CHUNK + TAG_BYTES))],
    ["a cut inside the last chunk", (s) => s.subarray(0, s.length - 5)],
    [
      "two chunks swapped",
      (s) =>
        Buffer.concat([
          s.subarray(CHUNK + TAG_BYTES, 2 * (CHUNK + TAG_BYTES)),
          s.subarray(0, CHUNK + TAG_BYTES),
          s.subarray(2 * (CHUNK + TAG_BYTES)),
        ]),
    ],
    ["a chunk appended", (s) => Buffer.concat([s, s.subarray(0, CHUNK + TAG_BYTES)])],
  ])("%s fails with IntegrityMismatch", async (_name, tamper) => {
    const { dataKey, encryption } = setup();
    const size = 3 * CHUNK + 100;
    const sealed = await collect(encryptChunks(once(randomBytes(size)), dataKey, encryption));
    await expect(openAll(tamper(sealed), size, dataKey, encryption)).rejects.toMatchObject({
      code: "IntegrityMismatch",
    });
  });

  it("a full chunk cut to a shorter object's end does not pass as its last chunk", async () => {
    const { dataKey, encryption } = setup();
    const sealed = await collect(encryptChunks(once(randomBytes(2 * CHUNK)), dataKey, encryption));
    // Claim the object was one chunk: chunk 0 is sealed as not-last, so it fails.
    await expect(
      collect(
        decryptChunks(once(sealed.subarray(0, CHUNK + TAG_BYTES)), dataKey, encryption, 0, 0, 1),
      ),
    ).rejects.toMatchObject({
      code: "IntegrityMismatch",
    });
  });
});

describe("data keys", () => {
  it("unwraps with the key that wrapped, for the same object key only", () => {
    const { keyring, dataKey, encryption } = setup();
    expect(unwrapDataKey(keyring, encryption, "obj").equals(dataKey)).toBe(true);
    expect(() => unwrapDataKey(keyring, encryption, "other")).toThrow(/does not unwrap/);
  });

  it("is KeyUnavailable without the key, or with other key material under its id", () => {
    const { encryption } = setup();
    for (const keyring of [
      undefined,
      createKeyring({ k2: randomBytes(32) }, "k2"),
      createKeyring({ k1: randomBytes(32) }),
    ]) {
      let err: unknown;
      try {
        unwrapDataKey(keyring, encryption, "obj");
      } catch (e) {
        err = e;
      }
      expect(isStorageError(err, "KeyUnavailable")).toBe(true);
    }
  });

  it("rotation: a keyring with a new active key still unwraps the old key's objects", () => {
    const k1 = randomBytes(32);
    const before = createKeyring({ k1 }, "k1");
    const { dataKey, encryption } = newDataKey(before, "obj");
    const after = createKeyring({ k1, k2: randomBytes(32) }, "k2");
    expect(unwrapDataKey(after, encryption, "obj").equals(dataKey)).toBe(true);
    expect(newDataKey(after, "new").encryption.keyId).toBe("k2");
  });

  it("a keyring without an active key reads but does not write", () => {
    expect(() => newDataKey(createKeyring({ k1: randomBytes(32) }), "obj")).toThrow(
      /no active key/,
    );
  });
});

describe("keyrings", () => {
  it.each<[string, Record<string, string>, string | undefined, RegExp]>([
    ["a short key", { k1: randomBytes(16).toString("base64") }, "k1", /16 bytes/],
    ["a bad id", { "bad id": randomBytes(32).toString("base64") }, undefined, /bad key id/],
    [
      "an active key it lacks",
      { k1: randomBytes(32).toString("base64") },
      "k9",
      /not in the keyring/,
    ],
  ])("refuses %s", (_name, keys, active, message) => {
    expect(() => createKeyring(keys, active)).toThrow(message);
  });

  it("loads a Secret directory (files by key id, active), skipping ..data entries", async () => {
    const dir = await mkdtemp(join(tmpdir(), "soulbox-keyring-"));
    try {
      const k1 = randomBytes(32);
      await writeFile(join(dir, "k1"), `${k1.toString("base64")}\n`);
      await writeFile(join(dir, "k2"), randomBytes(32).toString("base64"));
      await writeFile(join(dir, "active"), "k2\n");
      await mkdir(join(dir, "..data"));
      const keyring = await loadKeyring(dir);
      expect(keyring.activeKeyId).toBe("k2");
      expect(keyring.keys.get("k1")?.equals(k1)).toBe(true);
      expect([...keyring.keys.keys()].sort()).toEqual(["k1", "k2"]);
      await expect(loadKeyring(join(dir, "missing"))).rejects.toMatchObject({
        code: "InvalidConfig",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("mapRange", () => {
  const F = CHUNK + TAG_BYTES;
  it.each([
    // [start, end, size] → chunks, stored bytes, skip, length
    [0, 10, 5000, { firstChunk: 0, lastChunk: 0, blobStart: 0, blobEnd: F, skip: 0, length: 10 }],
    [
      1000,
      1030,
      5000,
      { firstChunk: 0, lastChunk: 1, blobStart: 0, blobEnd: 2 * F, skip: 1000, length: 30 },
    ],
    [
      CHUNK,
      2 * CHUNK,
      5000,
      { firstChunk: 1, lastChunk: 1, blobStart: F, blobEnd: 2 * F, skip: 0, length: CHUNK },
    ],
    [
      4990,
      5000,
      5000,
      {
        firstChunk: 4,
        lastChunk: 4,
        blobStart: 4 * F,
        blobEnd: encryptedSize(5000, CHUNK),
        skip: 4990 - 4 * CHUNK,
        length: 10,
      },
    ],
    [
      0,
      5000,
      5000,
      {
        firstChunk: 0,
        lastChunk: 4,
        blobStart: 0,
        blobEnd: encryptedSize(5000, CHUNK),
        skip: 0,
        length: 5000,
      },
    ],
    [
      0,
      0,
      0,
      { firstChunk: 0, lastChunk: 0, blobStart: 0, blobEnd: TAG_BYTES, skip: 0, length: 0 },
    ],
    [
      2 * CHUNK,
      2 * CHUNK,
      2 * CHUNK,
      { firstChunk: 1, lastChunk: 1, blobStart: F, blobEnd: 2 * F, skip: CHUNK, length: 0 },
    ],
  ])("[%d, %d) of %d", (start, end, size, want) => {
    expect(mapRange(start, end, size, CHUNK)).toEqual(want);
  });
});
