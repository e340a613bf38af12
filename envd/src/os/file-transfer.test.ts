import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openForDownload } from "./file-transfer.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "download-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

test.each([
  ["an empty file", ""],
  ["a small file", "hello\n"],
  ["a file of several read chunks", "x".repeat(200_000)],
])("%s is sent whole, as big as announced", async (_what, content) => {
  const path = join(dir, "f");
  await writeFile(path, content);
  const { size, stream } = await openForDownload(path);
  expect(size).toBe(Buffer.byteLength(content));
  expect((await drain(stream)).toString()).toBe(content);
});

// A log appended to while it is downloaded: more bytes than the announced Content-Length would
// leave the response unfinished.
test("a file that grows after it was opened is sent as big as it was then", async () => {
  const path = join(dir, "log");
  await writeFile(path, "first\n");
  const { size, stream } = await openForDownload(path);
  await appendFile(path, "second\n".repeat(10_000));
  const got = await drain(stream);
  expect([size, got.length, got.toString()]).toEqual([6, 6, "first\n"]);
});

test.each([
  ["a directory", (d: string) => d, /is a directory, not a file/],
  ["a missing file", (d: string) => join(d, "nope"), /cannot read/],
])("%s is refused with a clear error", async (_what, path, message) => {
  await expect(openForDownload(path(dir))).rejects.toThrow(message);
});
