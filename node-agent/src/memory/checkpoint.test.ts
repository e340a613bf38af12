import {
  archiveFromReply,
  checkpointContainer,
  checkpointPath,
  CheckpointError,
} from "./checkpoint.js";

describe("checkpointPath", () => {
  test.each([
    [
      { namespace: "ns", pod: "p-1", container: "sandbox" },
      undefined,
      "/checkpoint/ns/p-1/sandbox",
    ],
    [{ namespace: "ns", pod: "p.1", container: "c" }, 59.2, "/checkpoint/ns/p.1/c?timeout=60"],
    // Only the three names count: a caller's richer object passes as it is.
    [
      { namespace: "ns", pod: "p", container: "c", socket: "/a/b" },
      undefined,
      "/checkpoint/ns/p/c",
    ],
  ])("%j", (ref, timeout, path) => expect(checkpointPath(ref, timeout)).toBe(path));
  test.each([
    [{ namespace: "../x", pod: "p", container: "c" }],
    [{ namespace: "ns", pod: "P", container: "c" }],
    [{ namespace: "ns", pod: "p", container: "c/d" }],
    [{ namespace: "ns", pod: "", container: "c" }],
  ])("refuses %j", (ref) => expect(() => checkpointPath(ref)).toThrow(CheckpointError));
});

describe("archiveFromReply", () => {
  test("one absolute path", () =>
    expect(archiveFromReply('{"items":["/var/lib/kubelet/checkpoints/a.tar"]}')).toBe(
      "/var/lib/kubelet/checkpoints/a.tar",
    ));
  test.each([
    ["not json"],
    ['{"items":[]}'],
    ['{"items":["a.tar"]}'],
    ['{"items":["/a","/b"]}'],
    ["{}"],
  ])("refuses %s", (body) => expect(() => archiveFromReply(body)).toThrow(CheckpointError));
});

test("refuses to call without credentials", async () => {
  await expect(
    checkpointContainer(
      { url: "https://127.0.0.1:1", ca: "" },
      { namespace: "n", pod: "p", container: "c" },
    ),
  ).rejects.toThrow(/no kubelet credentials/);
});

test("a kubelet that does not answer is a CheckpointError with status 0", async () => {
  const err = await checkpointContainer(
    { url: "https://127.0.0.1:1", ca: "", cert: "x", key: "y" },
    { namespace: "n", pod: "p", container: "c" },
  ).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).status).toBe(0);
});
