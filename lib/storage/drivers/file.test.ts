import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileDriver } from "./file.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "file-owner-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* body(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

// The operator (uid 65532) deletes what the root node agent wrote: deleting a file takes write
// permission on its directory, so the store gives both to the configured owner.
// (The test host runs as root, as the node agent does: scripts/test-host-setup.sh.)
test("with an owner, every directory created and every file written belongs to it", async () => {
  const root = join(dir, "store");
  const driver = createFileDriver(root, { uid: 65532, gid: 65533 });
  await driver.upload("snapshots/ns/a.tar", body("layer"));
  await driver.putSmall("snapshots/ns/deep/m.json", Buffer.from("{}"), true);
  for (const p of [
    "store",
    "store/snapshots",
    "store/snapshots/ns",
    "store/snapshots/ns/a.tar",
    "store/snapshots/ns/deep",
    "store/snapshots/ns/deep/m.json",
  ]) {
    const s = await stat(join(dir, p));
    expect([p, s.uid, s.gid]).toEqual([p, 65532, 65533]);
  }
  // The directory holding the store's root is not the store's.
  expect((await stat(dir)).uid).toBe(process.getuid?.());
});

test("without an owner, files belong to the writer", async () => {
  const driver = createFileDriver(join(dir, "store"));
  await driver.upload("a/b.tar", body("x"));
  expect((await stat(join(dir, "store/a/b.tar"))).uid).toBe(process.getuid?.());
});
