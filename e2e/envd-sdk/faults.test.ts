import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { startEnvd, type EnvdUnderTest } from "../../envd/test-support/envd-process.js";

let envd: EnvdUnderTest;
let dir: string;
beforeAll(async () => {
  envd = await startEnvd();
  dir = mkdtempSync(join(tmpdir(), "sbx-faults-"));
});
afterAll(async () => {
  await envd.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  const res = await fetch(`${envd.url}/health`);
  expect(res.status).toBe(204); // envd stays up after every fault
  expect(envd.output()).not.toMatch(/uncaught exception/);
});

const upload = (
  path: string,
  body: string | Uint8Array | Readable,
  headers: Record<string, string> = {},
) =>
  fetch(`${envd.url}/files?path=${encodeURIComponent(path)}&username=root`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", ...headers },
    body: body as unknown as string, // fetch streams a Readable with duplex: "half"
    duplex: "half",
  } as RequestInit);

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

describe("envd HTTP side: bad input and faults", () => {
  test.each([
    ["invalid UTF-8 in the path", `/files?path=%FF%FE`, "GET", 400, /not valid UTF-8/],
    ["a directory as a file", `/files?path=/tmp`, "GET", 400, /is a directory/],
    ["an unknown route", `/nope`, "GET", 404, /no route for GET \/nope/],
    [
      "an unknown user",
      `/files?path=/tmp/x&username=nosuchuser`,
      "GET",
      401,
      /user 'nosuchuser' does not exist/,
    ],
  ])("%s", async (_n, path, method, status, message) => {
    const res = await fetch(`${envd.url}${path}`, { method });
    expect(res.status).toBe(status);
    expect((await res.json()) as { message: string }).toMatchObject({
      code: status,
      message: expect.stringMatching(message),
    });
  });

  test.each([
    ["malformed JSON", "{not json", 400],
    ["a body over 1 MiB", JSON.stringify({ envVars: { A: "x".repeat(2 << 20) } }), 413],
    ["a JSON array", "[1,2]", 400],
    ["a default user that does not exist", JSON.stringify({ defaultUser: "nosuchuser" }), 401],
  ])("/init refuses %s and changes nothing", async (_n, body, status) => {
    const res = await fetch(`${envd.url}/init`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(status);
    expect(await (await fetch(`${envd.url}/envs`)).json()).toEqual({});
  });

  test("an octet-stream upload needs a path", async () => {
    const res = await fetch(`${envd.url}/files`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: "x",
    });
    expect(res.status).toBe(400);
  });

  test("a multipart body without a file field is refused", async () => {
    const form = new FormData();
    form.append("other", "value");
    const res = await fetch(`${envd.url}/files?path=${dir}/m`, { method: "POST", body: form });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: "the multipart body has no 'file' field" });
  });

  test("a corrupt gzip upload fails and leaves the old content and no temp file", async () => {
    writeFileSync(join(dir, "keep.txt"), "old");
    const res = await upload(`${dir}/keep.txt`, "definitely not gzip", {
      "content-encoding": "gzip",
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(readFileSync(join(dir, "keep.txt"), "utf8")).toBe("old");
    expect(readdirSync(dir).filter((n) => n.includes(".upload-"))).toEqual([]);
  });

  test("a client that disconnects mid-upload loses nothing that was there before", async () => {
    writeFileSync(join(dir, "mid.txt"), "before");
    await new Promise<void>((resolve) => {
      const req = request(`${envd.url}/files?path=${encodeURIComponent(`${dir}/mid.txt`)}`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "content-length": String(10 << 20) },
      });
      req.on("error", () => resolve());
      req.write(Buffer.alloc(1 << 20, 1), () => setTimeout(() => req.destroy(), 100));
      req.on("close", () => resolve());
    });
    const deadline = Date.now() + 5000;
    while (readdirSync(dir).some((n) => n.includes(".upload-")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(join(dir, "mid.txt"), "utf8")).toBe("before");
    expect(readdirSync(dir).filter((n) => n.includes(".upload-"))).toEqual([]);
  });

  test("a full disk answers 507 and keeps the previous file", async () => {
    const small = join(dir, "small-fs");
    execFileSync("mkdir", ["-p", small]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
    try {
      writeFileSync(join(small, "f"), "previous");
      const res = await upload(`${small}/f`, new Uint8Array(4 << 20));
      expect(res.status).toBe(507);
      expect(await res.json()).toMatchObject({
        code: 507,
        message: expect.stringMatching(/no space left/),
      });
      expect(readFileSync(join(small, "f"), "utf8")).toBe("previous");
      expect(readdirSync(small)).toEqual(["f"]);
    } finally {
      execFileSync("umount", [small]);
    }
  });

  test("a 2 GiB upload streams through without buffering", async () => {
    const size = 2 * 1024 ** 3;
    const chunk = Buffer.alloc(1 << 20, 7);
    let sent = 0;
    let peakRss = 0;
    const body = new Readable({
      read() {
        if (sent % (256 << 20) === 0) peakRss = Math.max(peakRss, rssMiB(envd.pid));
        if (sent >= size) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const res = await upload(`${dir}/big.bin`, body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ path: `${dir}/big.bin`, name: "big.bin", type: "file" }]);
    expect(statSync(join(dir, "big.bin")).size).toBe(size);
    expect(peakRss).toBeLessThan(512); // the sidecar never held the body
    rmSync(join(dir, "big.bin"));
  }, 300_000);
});
