import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socketAccepts } from "./socket-accepts.js";

test("true while a server listens on the socket, false before and after", async () => {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-accepts-"));
  const path = join(dir, "s.sock");
  const server = createServer((c) => c.destroy());
  try {
    expect(await socketAccepts(path)).toBe(false);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    expect(await socketAccepts(path)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect(await socketAccepts(path)).toBe(false);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
