import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extract } from "tar-stream";
import {
  CHECKPOINT_NAME_ANNOTATION,
  CONTAINERD_IMAGE_NAME_ANNOTATION,
  CheckpointImageError,
  CheckpointImportError,
  importCheckpointArchive,
  removeCheckpointImage,
  runCtrFed,
  checkpointImageDocs,
  ociArchitecture,
  parseImageRef,
  writeCheckpointImage,
} from "./checkpoint-image.js";

const LAYER = { digest: `sha256:${"a".repeat(64)}`, size: 1234 };
const INFO = {
  ref: "localhost/soulbox/checkpoint/ns-pod:abc",
  container: "sandbox",
  architecture: "amd64",
  created: new Date(0),
};
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("parseImageRef", () => {
  test.each([
    ["localhost/soulbox/checkpoint/ns-pod:abc", "localhost/soulbox/checkpoint/ns-pod", "abc"],
    ["registry:5000/a/b:v1.2", "registry:5000/a/b", "v1.2"],
    ["busybox:latest", "busybox", "latest"],
  ])("%s", (ref, repository, tag) => expect(parseImageRef(ref)).toEqual({ repository, tag }));
  test.each([
    ["no-tag"],
    ["Upper/Case:x"],
    ["a/b@sha256:" + "0".repeat(64)],
    [":tag"],
    ["a/b:"],
    [""],
  ])("refuses %j", (ref) => expect(() => parseImageRef(ref)).toThrow(CheckpointImageError));
});

test.each([
  ["x64", "amd64"],
  ["arm64", "arm64"],
])("ociArchitecture(%s) = %s", (node, oci) => expect(ociArchitecture(node)).toBe(oci));
test("ociArchitecture refuses an unknown one", () =>
  expect(() => ociArchitecture("mips")).toThrow(/no OCI architecture/));

describe("checkpointImageDocs", () => {
  const docs = checkpointImageDocs(
    { ...INFO, pod: "p", namespace: "n", rootfsImage: "img:1" },
    LAYER,
  );
  const config = JSON.parse(docs.config.toString()) as Record<string, unknown>;
  const manifest = JSON.parse(docs.manifest.toString()) as {
    config: { digest: string; size: number };
    layers: { mediaType: string; digest: string; size: number }[];
    annotations: Record<string, string>;
  };
  const index = JSON.parse(docs.index.toString()) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };

  test("the archive is the one uncompressed layer, its digest also its diff ID", () => {
    expect(manifest.layers).toEqual([
      { mediaType: "application/vnd.oci.image.layer.v1.tar", ...LAYER },
    ]);
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [LAYER.digest] });
    expect(config).toMatchObject({ os: "linux", architecture: "amd64" });
  });
  test("digests and sizes tie the documents together", () => {
    expect(manifest.config).toMatchObject({ digest: sha(docs.config), size: docs.config.length });
    expect(docs.manifestDescriptor).toMatchObject({
      digest: sha(docs.manifest),
      size: docs.manifest.length,
    });
    expect(index.manifests[0]?.digest).toBe(sha(docs.manifest));
  });
  test("containerd's checkpoint annotation is on the image's target, the name on its index entry", () => {
    expect(manifest.annotations[CHECKPOINT_NAME_ANNOTATION]).toBe("sandbox");
    expect(manifest.annotations["org.criu.checkpoint.pod.name"]).toBe("p");
    expect(index.manifests[0]?.annotations[CONTAINERD_IMAGE_NAME_ANNOTATION]).toBe(INFO.ref);
    expect(index.manifests[0]?.annotations["org.opencontainers.image.ref.name"]).toBe("abc");
  });
  test("the same input gives the same bytes", () => {
    const again = checkpointImageDocs(
      { ...INFO, pod: "p", namespace: "n", rootfsImage: "img:1" },
      LAYER,
    );
    expect(again.manifest.equals(docs.manifest)).toBe(true);
  });
  test.each([
    [{ ...INFO, ref: "nope" }, LAYER, /not repository:tag/],
    [{ ...INFO, container: "" }, LAYER, /needs a name/],
    [INFO, { digest: "md5:1", size: 1 }, /not a sha256 digest/],
  ])("refuses bad input %#", (info, layer, message) =>
    expect(() => checkpointImageDocs(info, layer)).toThrow(message),
  );
});

describe("writeCheckpointImage", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ckpt-image-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test("writes an OCI layout whose layer blob is the archive byte for byte", async () => {
    const archive = Buffer.alloc(300_000, 7);
    await writeFile(join(dir, "a.tar"), archive);
    const out = join(dir, "image.tar");
    const image = await writeCheckpointImage(join(dir, "a.tar"), INFO, out);
    expect(image).toMatchObject({
      ref: INFO.ref,
      layerDigest: sha(archive),
      layerSize: archive.length,
    });
    const files = new Map<string, Buffer>();
    const x = extract();
    x.on("entry", (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => void chunks.push(c as Buffer));
      stream.on("end", () => {
        files.set(h.name, Buffer.concat(chunks));
        next();
      });
    });
    await new Promise<void>((resolve, reject) => {
      x.on("finish", resolve);
      x.on("error", reject);
      createReadStream(out).pipe(x);
    });
    // oci-layout, index.json and three blobs: config, manifest, layer.
    expect(files.size).toBe(5);
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        "oci-layout",
        "index.json",
        `blobs/sha256/${image.manifestDigest.slice(7)}`,
        `blobs/sha256/${image.layerDigest.slice(7)}`,
      ]),
    );
    expect(files.get(`blobs/sha256/${image.layerDigest.slice(7)}`)?.equals(archive)).toBe(true);
    for (const [name, body] of files)
      if (name.startsWith("blobs/sha256/")) expect(sha(body)).toBe(`sha256:${name.slice(13)}`);
    const index = JSON.parse(files.get("index.json")?.toString() ?? "{}") as {
      manifests: { digest: string }[];
    };
    expect(index.manifests[0]?.digest).toBe(image.manifestDigest);
  });

  test("a bad reference writes nothing", async () => {
    await writeFile(join(dir, "a.tar"), "x");
    await expect(
      writeCheckpointImage(join(dir, "a.tar"), { ...INFO, ref: "bad" }, join(dir, "o.tar")),
    ).rejects.toThrow(CheckpointImageError);
  });
  test("a missing archive fails", async () => {
    await expect(
      writeCheckpointImage(join(dir, "none.tar"), INFO, join(dir, "o.tar")),
    ).rejects.toThrow(/ENOENT/);
  });
});

describe("containerd steps refuse bad input and report ctr failures", () => {
  const client = { ctr: "/nonexistent/ctr", address: "/nonexistent.sock" };
  test("a bad reference is refused before ctr runs", async () => {
    await expect(removeCheckpointImage(client, "bad")).rejects.toThrow(CheckpointImageError);
    await expect(
      importCheckpointArchive(client, "/x.tar", { ...INFO, ref: "bad" }),
    ).rejects.toThrow(CheckpointImageError);
  });
  test("a failed import is a CheckpointImportError with ctr's failure as its cause", async () => {
    const err = await importCheckpointArchive(client, "/x.tar", INFO, LAYER).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointImportError);
    expect(String((err as Error).cause)).toMatch(/ENOENT/);
  });
});

describe("runCtrFed: a child's stdin fed from a stream", () => {
  // A stand-in for ctr (it ignores ctr's global flags): the plumbing is under test here; the
  // real ctr imports real archives in e2e/snapshots/memory*.test.ts.
  let dir: string;
  const script = async (body: string) => {
    const path = join(dir, "fake-ctr");
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return { ctr: path, address: "/unused.sock" };
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ckpt-fed-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test("every byte the feed writes reaches the child; its stdout comes back", async () => {
    const client = await script("wc -c");
    const out = await runCtrFed(client, ["images", "import", "-"], async (stdin) => {
      for (let i = 0; i < 64; i++) stdin.write(Buffer.alloc(1 << 16, i));
      stdin.end();
    });
    expect(Number(out.trim())).toBe(64 << 16);
  });

  test("a child that exits early with an error is reported with its stderr", async () => {
    const client = await script('echo "ctr: unrecognized image format" >&2; exit 3');
    const err = await runCtrFed(client, ["images", "import", "-"], async (stdin) => {
      const { pipeline } = await import("node:stream/promises");
      await pipeline(createReadStream("/dev/zero", { end: (64 << 20) - 1 }), stdin);
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/exited with 3: ctr: unrecognized image format/);
  });

  test("a feed that fails ends the child's input and its error is the result", async () => {
    const client = await script("cat > /dev/null");
    const err = await runCtrFed(client, ["images", "import", "-"], async (stdin) => {
      stdin.write(Buffer.alloc(1000));
      throw new Error("the archive went away");
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/the archive went away/);
  });
});
