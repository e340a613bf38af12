import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CaptureRequest } from "../../api/node-agent.js";
import { createImageImports } from "./memory/image-imports.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import {
  forgetImage,
  layerOfManifest,
  memoryTarget,
  restoreImage,
  wake,
} from "./memory-capture.js";
import { MemoryNotSupportedError } from "./memory/memory-checkpoint.js";
import { parseCaptureRequest } from "./server.js";

const MEMORY = {
  id: "u1",
  containerID: `containerd://${"a".repeat(64)}`,
  key: "snapshots/ns/s-u1/memory.tar",
  mode: "Memory",
  target: { namespace: "ns", pod: "sb", container: "sandbox" },
  image: "localhost/soulbox/checkpoint:u1",
  executorSocket: "/soulbox/run/executor.sock",
};

describe("parseCaptureRequest", () => {
  test("a Filesystem request carries only its three strings", () =>
    expect(parseCaptureRequest({ id: "a", containerID: "b", key: "c", image: "x" })).toEqual({
      id: "a",
      containerID: "b",
      key: "c",
    }));
  test("a Memory request keeps its target, image, socket and rootfs image", () =>
    expect(parseCaptureRequest({ ...MEMORY, rootfsImage: "img:1" })).toEqual({
      ...MEMORY,
      rootfsImage: "img:1",
    }));
  test.each([
    [{ ...MEMORY, mode: "Disk" }, /"mode" must be Filesystem or Memory/],
    [{ ...MEMORY, target: undefined }, /needs "target"/],
    [{ ...MEMORY, target: ["ns"] }, /needs "target"/],
    [{ ...MEMORY, target: { namespace: "ns", pod: "sb" } }, /"container" is required/],
    [{ ...MEMORY, image: "" }, /"image" is required/],
    [{ ...MEMORY, executorSocket: undefined }, /"executorSocket" is required/],
    [{ ...MEMORY, key: 3 }, /"key" is required/],
  ])("refuses %j", (body, message) => {
    expect(() => parseCaptureRequest(body as Record<string, unknown>)).toThrow(message);
  });
});

describe("memoryTarget", () => {
  test("a whole Memory request", () =>
    expect(memoryTarget(MEMORY as CaptureRequest)).toEqual({
      target: MEMORY.target,
      image: MEMORY.image,
      executorSocket: MEMORY.executorSocket,
    }));
  test.each([
    [{ image: "no-tag" }, /not repository:tag/],
    [{ image: "UPPER:x" }, /not repository:tag/],
    [{ executorSocket: "run/x.sock" }, /absolute path/],
    [{ target: { namespace: "", pod: "p", container: "c" } }, /target.namespace/],
  ])("refuses %j", (change, message) => {
    const err = (() => {
      try {
        memoryTarget({ ...MEMORY, ...change } as CaptureRequest);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NodeAgentError);
    expect((err as NodeAgentError).code).toBe("InvalidArgument");
    expect((err as Error).message).toMatch(message);
  });
});

describe("layerOfManifest", () => {
  test.each([
    ['{"layers":[{"digest":"sha256:ab"}]}', "sha256:ab"],
    ['{"layers":[{"digest":"sha256:ab"},{"digest":"sha256:cd"}]}', undefined],
    ['{"layers":[]}', undefined],
    ['{"manifests":[]}', undefined],
    ["not json", undefined],
  ])("%s", (body, digest) => expect(layerOfManifest(body)).toBe(digest));
});

describe("bad input is refused before containerd is asked", () => {
  const deps = {
    store: {} as never,
    imports: createImageImports(),
    containerd: { ctr: "/nonexistent/ctr", address: "/nonexistent.sock" },
    kubelet: { url: "https://127.0.0.1:1", ca: "" },
    workDir: "/tmp",
  };
  const req = { id: "i", key: "k", sha256: "a".repeat(64), image: "localhost/x:y", container: "c" };
  test.each([
    [{ ...req, image: "bad" }, /not repository:tag/],
    [{ ...req, sha256: "A".repeat(64) }, /not 64 lowercase hex/],
  ])("restoreImage %j", async (r, message) => {
    await expect(restoreImage(r, deps)).rejects.toThrow(message);
  });
  test("wake with a container id that is not one", async () => {
    await expect(wake({ id: "i", containerID: "docker://xyz" }, deps)).rejects.toThrow(
      /not a container id/,
    );
  });
});

test("a runtime CRIU cannot reach is RuntimeNotSupported, with the reason kept", () => {
  const err = toNodeAgentError(new MemoryNotSupportedError("Kata runs in a VM"), "capture");
  expect(err.code).toBe("RuntimeNotSupported");
  expect(err.message).toBe("Kata runs in a VM");
  expect(err.cause).toBeInstanceOf(MemoryNotSupportedError);
});

describe("forgetImage: only checkpoint images, once their import has ended", () => {
  // A stand-in for ctr that logs its arguments (past the global flags) and lists `LISTED`: the
  // real ctr removes real images in e2e/snapshots/memory-pause.test.ts.
  const REF = "localhost/soulbox/checkpoint/ns/s1:u1";
  let dir: string;
  const fakeCtr = async (listed: string[]) => {
    const path = join(dir, "fake-ctr");
    await writeFile(join(dir, "listed"), listed.map((l) => `${l}\n`).join(""));
    await writeFile(
      path,
      `#!/bin/sh\nshift 4\necho "$@" >> "${dir}/calls"\n[ "$1 $2" = "images ls" ] && cat "${dir}/listed"\nexit 0\n`,
    );
    await chmod(path, 0o755);
    return { ctr: path, address: "/unused.sock" };
  };
  const calls = async () =>
    (await readFile(join(dir, "calls"), "utf8").catch(() => "")).split("\n").filter(Boolean);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "forget-image-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test.each([
    [
      "an image that is not a checkpoint image",
      "docker.io/library/busybox:1.36",
      /not a checkpoint image/,
    ],
    ["a reference without a tag", "localhost/soulbox/checkpoint/ns/s1", /repository:tag/],
  ])("refuses %s before ctr runs", async (_, image, message) => {
    const containerd = await fakeCtr([image]);
    await expect(
      forgetImage({ image }, { containerd, imports: createImageImports() }),
    ).rejects.toMatchObject({ code: "InvalidArgument", message: expect.stringMatching(message) });
    expect(await calls()).toEqual([]);
  });

  test("removes an image the node has", async () => {
    const containerd = await fakeCtr(["other:1", REF]);
    expect(
      await forgetImage({ image: REF }, { containerd, imports: createImageImports() }),
    ).toEqual({ removed: true });
    expect(await calls()).toEqual(["images ls -q", `images rm --sync ${REF}`]);
  });

  test("an image the node does not have is no error and removes nothing", async () => {
    const containerd = await fakeCtr(["other:1"]);
    expect(
      await forgetImage({ image: REF }, { containerd, imports: createImageImports() }),
    ).toEqual({ removed: false });
    expect(await calls()).toEqual(["images ls -q"]);
  });

  test("waits for an import of the image in flight (it would tag the image again)", async () => {
    const containerd = await fakeCtr([REF]);
    const imports = createImageImports();
    let finish = () => {};
    imports.start(
      REF,
      () => new Promise<void>((resolve) => (finish = resolve)),
      () => undefined,
    );
    let done = false;
    const forgetting = forgetImage({ image: REF }, { containerd, imports }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    expect(await calls()).toEqual([]);
    finish();
    expect(await forgetting).toEqual({ removed: true });
  });
});
