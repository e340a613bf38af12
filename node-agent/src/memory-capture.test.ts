import type { CaptureRequest } from "../../api/node-agent.js";
import { createImageImports } from "./memory/image-imports.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import { layerOfManifest, memoryTarget, restoreImage, wake } from "./memory-capture.js";
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
