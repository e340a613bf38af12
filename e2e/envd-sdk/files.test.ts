import { createHash } from "node:crypto";
import { FileType, FilesystemEventType, NotFoundError, type FilesystemEvent } from "e2b";
import { eventually, startSdkHarness, type SdkHarness } from "./sandbox.js";

let h: SdkHarness;
let dir: string;
beforeAll(async () => {
  h = await startSdkHarness();
});
afterAll(async () => {
  await h.stop();
});
beforeEach(async () => {
  dir = `/tmp/sbx-files-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await h.sandbox.files.makeDir(dir);
});
afterEach(async () => {
  await h.sandbox.files.remove(dir);
});

describe("files through the official e2b SDK", () => {
  test("write then read as text, bytes, blob and stream", async () => {
    const info = await h.sandbox.files.write(`${dir}/a.txt`, "héllo\n");
    expect(info).toMatchObject({ path: `${dir}/a.txt`, name: "a.txt", type: "file" });
    expect(await h.sandbox.files.read(`${dir}/a.txt`)).toBe("héllo\n");
    expect(
      Buffer.from(await h.sandbox.files.read(`${dir}/a.txt`, { format: "bytes" })).toString(),
    ).toBe("héllo\n");
    expect(await (await h.sandbox.files.read(`${dir}/a.txt`, { format: "blob" })).text()).toBe(
      "héllo\n",
    );
    const stream = await h.sandbox.files.read(`${dir}/a.txt`, { format: "stream" });
    const chunks: Uint8Array[] = [];
    for await (const c of stream) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe("héllo\n");
  });

  test("binary content and gzip both ways survive byte for byte", async () => {
    const data = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256);
    await h.sandbox.files.write(`${dir}/bin`, data.buffer, { gzip: true });
    const back = await h.sandbox.files.read(`${dir}/bin`, { format: "bytes", gzip: true });
    expect(createHash("sha256").update(back).digest("hex")).toBe(
      createHash("sha256").update(data).digest("hex"),
    );
  });

  test("several files in one multipart upload", async () => {
    const infos = await h.sandbox.files.write([
      { path: `${dir}/m/one.txt`, data: "1" },
      { path: `${dir}/m/two.txt`, data: "2" },
    ]);
    expect(infos.map((i) => i.path).sort()).toEqual([`${dir}/m/one.txt`, `${dir}/m/two.txt`]);
    expect(await h.sandbox.files.read(`${dir}/m/two.txt`)).toBe("2");
  });

  test("uploaded files belong to the user and relative paths start at home", async () => {
    await h.sandbox.files.write("sbx-relative.txt", "rel");
    const info = await h.sandbox.files.getInfo("/home/user/sbx-relative.txt");
    expect(info).toMatchObject({ owner: "user", group: "user", type: FileType.FILE, size: 3 });
    await h.sandbox.files.remove("sbx-relative.txt");
  });

  // Header names are case-insensitive and fetch sends them lower-cased, so keys come back lower-case.
  test("metadata travels as X-Metadata headers and comes back on the entry", async () => {
    const info = await h.sandbox.files.write(`${dir}/meta.txt`, "m", {
      metadata: { owner: "agent-7", purpose: "test" },
    });
    expect(info.metadata).toEqual({ owner: "agent-7", purpose: "test" });
    const stat = await h.sandbox.files.getInfo(`${dir}/meta.txt`);
    expect(stat.metadata).toEqual({ owner: "agent-7", purpose: "test" });
  });

  test("list, makeDir, exists, getInfo, rename, remove", async () => {
    expect(await h.sandbox.files.makeDir(`${dir}/sub/deeper`)).toBe(true);
    expect(await h.sandbox.files.makeDir(`${dir}/sub/deeper`)).toBe(false);
    await h.sandbox.files.write(`${dir}/sub/f.txt`, "f");
    const shallow = await h.sandbox.files.list(dir);
    expect(shallow.map((e) => [e.name, e.type])).toEqual([["sub", FileType.DIR]]);
    const deep = await h.sandbox.files.list(dir, { depth: 3 });
    expect(deep.map((e) => e.path)).toEqual([
      `${dir}/sub`,
      `${dir}/sub/deeper`,
      `${dir}/sub/f.txt`,
    ]);
    const info = await h.sandbox.files.getInfo(`${dir}/sub`);
    expect(info).toMatchObject({ type: FileType.DIR, permissions: "drwxr-xr-x", owner: "user" });
    expect(info.modifiedTime).toBeInstanceOf(Date);

    const moved = await h.sandbox.files.rename(`${dir}/sub/f.txt`, `${dir}/other/g.txt`);
    expect(moved.path).toBe(`${dir}/other/g.txt`);
    expect(await h.sandbox.files.exists(`${dir}/sub/f.txt`)).toBe(false);
    expect(await h.sandbox.files.exists(`${dir}/other/g.txt`)).toBe(true);
    await h.sandbox.files.remove(`${dir}/other`);
    expect(await h.sandbox.files.exists(`${dir}/other`)).toBe(false);
  });

  test("symlinks are reported with their target", async () => {
    await h.sandbox.files.write(`${dir}/target.txt`, "t");
    await h.sandbox.commands.run(`ln -s ${dir}/target.txt ${dir}/link`);
    const info = await h.sandbox.files.getInfo(`${dir}/link`);
    expect(info).toMatchObject({ type: FileType.SYMLINK, symlinkTarget: `${dir}/target.txt` });
  });

  test("watchDir reports create, write, chmod, rename and remove, recursively", async () => {
    const events: FilesystemEvent[] = [];
    const watch = await h.sandbox.files.watchDir(dir, (e) => void events.push(e), {
      recursive: true,
    });
    try {
      const has = (name: string, type: FilesystemEventType) =>
        events.some((e) => e.name === name && e.type === type);
      await h.sandbox.commands.run(`mkdir ${dir}/w`);
      await eventually(() => (has("w", FilesystemEventType.CREATE) ? true : undefined));
      await h.sandbox.commands.run(
        `echo x > ${dir}/w/a && echo more >> ${dir}/w/a && chmod 600 ${dir}/w/a && mv ${dir}/w/a ${dir}/w/b && rm ${dir}/w/b`,
      );
      await eventually(() =>
        has("w/a", FilesystemEventType.CREATE) &&
        has("w/a", FilesystemEventType.WRITE) &&
        has("w/a", FilesystemEventType.RENAME) &&
        has("w/b", FilesystemEventType.CREATE) &&
        has("w/b", FilesystemEventType.REMOVE)
          ? true
          : undefined,
      );
    } finally {
      await watch.stop();
    }
  });

  test("files.write while watchDir runs is a WRITE named after the file (recursive, new folder too)", async () => {
    await h.sandbox.files.write(`${dir}/existing.txt`, "v1");
    const events: FilesystemEvent[] = [];
    const watch = await h.sandbox.files.watchDir(dir, (e) => void events.push(e), {
      recursive: true,
      includeEntry: true,
    });
    const of = (name: string) => events.filter((e) => e.name === name).map((e) => e.type);
    try {
      await h.sandbox.files.write(`${dir}/existing.txt`, "v2");
      await eventually(() =>
        of("existing.txt").includes(FilesystemEventType.WRITE) ? true : undefined,
      );
      await h.sandbox.files.makeDir(`${dir}/made-later`);
      await eventually(() => (of("made-later").length > 0 ? true : undefined));
      await h.sandbox.files.write(`${dir}/made-later/new.txt`, "new");
      await eventually(() =>
        of("made-later/new.txt").includes(FilesystemEventType.WRITE) ? true : undefined,
      );
      expect(of("existing.txt")).toEqual([FilesystemEventType.WRITE]);
      expect(of("made-later/new.txt")).toEqual([
        FilesystemEventType.CREATE,
        FilesystemEventType.WRITE,
      ]);
      // The atomic upload's temporary file is envd's business, not the user's.
      expect(events.filter((e) => e.name.includes(".upload-"))).toEqual([]);
      const written = events.find((e) => e.name === "made-later/new.txt");
      expect(written?.entry).toMatchObject({ name: "new.txt", path: `${dir}/made-later/new.txt` });
    } finally {
      await watch.stop();
    }
  });

  describe("POST /files/compose (E2B's chunked upload)", () => {
    const compose = (body: unknown) =>
      fetch(`${h.envd.url}/files/compose`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });

    test("concatenates the parts in order into the destination, deletes them, answers its entry", async () => {
      const parts = ["one-", "two-", "three"];
      for (const [i, p] of parts.entries()) await h.sandbox.files.write(`${dir}/part${i}`, p);
      const events: FilesystemEvent[] = [];
      const watch = await h.sandbox.files.watchDir(dir, (e) => void events.push(e));
      try {
        const res = await compose({
          source_paths: parts.map((_, i) => `${dir}/part${i}`),
          destination: `${dir}/out/all.txt`,
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          path: `${dir}/out/all.txt`,
          name: "all.txt",
          type: "file",
        });
        expect(await h.sandbox.files.read(`${dir}/out/all.txt`)).toBe("one-two-three");
        for (const i of parts.keys())
          expect(await h.sandbox.files.exists(`${dir}/part${i}`)).toBe(false);
        // Relative paths are the user's home's, like uploads; the owner is the user.
        const info = await h.sandbox.files.getInfo(`${dir}/out/all.txt`);
        expect(info.owner).toBe("user");
        await eventually(() =>
          events.some((e) => e.name === "part0" && e.type === FilesystemEventType.REMOVE)
            ? true
            : undefined,
        );
        expect(events.filter((e) => e.name.includes(".upload-"))).toEqual([]);
      } finally {
        await watch.stop();
      }
    });

    test.each<[string, (d: string) => unknown, number, RegExp]>([
      [
        "a missing part",
        (d) => ({ source_paths: [`${d}/p0`, `${d}/nope`], destination: `${d}/o` }),
        404,
        /^source file not found: .*\/nope$/,
      ],
      [
        "a part that is the destination",
        (d) => ({ source_paths: [`${d}/p0`], destination: `${d}/p0` }),
        400,
        /cannot be the same as destination$/,
      ],
      [
        "a folder as a part",
        (d) => ({ source_paths: [`${d}/p0`, d], destination: `${d}/o` }),
        400,
        /^source path is not a regular file: /,
      ],
      [
        "no parts",
        (d) => ({ source_paths: [], destination: `${d}/o` }),
        400,
        /^source_paths must not be empty$/,
      ],
      ["no destination", (d) => ({ source_paths: [`${d}/p0`] }), 400, /^destination is required$/],
      ["a body that is not JSON", () => "{oops", 400, /^invalid request body: /],
      [
        "an unknown user",
        (d) => ({ source_paths: [`${d}/p0`], destination: `${d}/o`, username: "nobody-here" }),
        401,
        /nobody-here/,
      ],
    ])(
      "%s: E2B's status and message, and nothing changes",
      async (_name, body, status, message) => {
        await h.sandbox.files.write(`${dir}/p0`, "zero");
        await h.sandbox.files.write(`${dir}/o`, "old");
        const res = await compose(body(dir));
        expect(res.status).toBe(status);
        const json = (await res.json()) as { code: number; message: string };
        expect(json.code).toBe(status);
        expect(json.message).toMatch(message);
        expect(await h.sandbox.files.read(`${dir}/p0`)).toBe("zero");
        expect(await h.sandbox.files.read(`${dir}/o`)).toBe("old");
      },
    );
  });

  test("watchDir reports a chmod", async () => {
    await h.sandbox.files.write(`${dir}/c.txt`, "c");
    const events: FilesystemEvent[] = [];
    const watch = await h.sandbox.files.watchDir(dir, (e) => void events.push(e));
    try {
      await h.sandbox.commands.run(`chmod 600 ${dir}/c.txt`);
      await eventually(() =>
        events.some((e) => e.name === "c.txt" && e.type === FilesystemEventType.CHMOD)
          ? true
          : undefined,
      );
    } finally {
      await watch.stop();
    }
  });

  test.each([
    ["reading a missing file", () => h.sandbox.files.read(`${dir}/missing`), NotFoundError],
    ["listing a missing directory", () => h.sandbox.files.list(`${dir}/missing`), NotFoundError],
    ["getInfo of a missing path", () => h.sandbox.files.getInfo(`${dir}/missing`), NotFoundError],
    [
      "watching a missing directory",
      () => h.sandbox.files.watchDir(`${dir}/missing`, () => undefined),
      NotFoundError,
    ],
  ])("%s throws NotFoundError", async (_name, call, cls) => {
    await expect(call()).rejects.toBeInstanceOf(cls);
  });

  test("removing a path that does not exist succeeds, as E2B's envd does", async () => {
    await expect(h.sandbox.files.remove(`${dir}/missing`)).resolves.toBeUndefined();
    await expect(h.sandbox.files.remove(`${dir}/no/such/tree`)).resolves.toBeUndefined();
    expect(await h.sandbox.files.exists(`${dir}/missing`)).toBe(false);
  });

  test("reading a directory as a file is refused with a clear error", async () => {
    await expect(h.sandbox.files.read(dir)).rejects.toThrow(/is a directory/);
  });

  test("writing over a directory is refused and changes nothing", async () => {
    await h.sandbox.files.makeDir(`${dir}/d`);
    await expect(h.sandbox.files.write(`${dir}/d`, "x")).rejects.toThrow(/is a directory/);
    expect((await h.sandbox.files.getInfo(`${dir}/d`)).type).toBe(FileType.DIR);
  });
});
