import { MemoryNotSupportedError, takeMemoryCheckpoint } from "./memory-checkpoint.js";

/**
 * A real Kata container cannot run here (the local cluster's `kata` RuntimeClass is runc): the
 * refusal is decided on the runtime containerd reports, given here. Nothing else is touched: the
 * ctr binary and the kubelet named do not exist, so any step past the check would fail otherwise.
 */
const clients = (runtime: string) => ({
  kubelet: { url: "https://127.0.0.1:1", ca: "", cert: "c", key: "k" },
  containerd: { ctr: "/nonexistent/ctr", address: "/nonexistent.sock" },
  runtimeOf: () => Promise.resolve(runtime),
});
const sandbox = {
  namespace: "team",
  pod: "sb",
  container: "sandbox",
  containerId: "a".repeat(64),
  executorSocket: "/soulbox/run/executor.sock",
};

test.each([
  ["io.containerd.kata.v2", /Kata container runs in a virtual machine/],
  ["io.containerd.runsc.v1", /gVisor/],
])("a container on %s is refused before anything is touched", async (runtime, why) => {
  const err = await takeMemoryCheckpoint(clients(runtime), sandbox).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MemoryNotSupportedError);
  expect((err as MemoryNotSupportedError).reason).toBe("RuntimeNotSupported");
  expect((err as Error).message).toMatch(why);
});

test("a runc container gets past the check (and here fails at the first node step)", async () => {
  const err = await takeMemoryCheckpoint(clients("io.containerd.runc.v2"), sandbox).catch(
    (e: unknown) => e,
  );
  expect(err).not.toBeInstanceOf(MemoryNotSupportedError);
  expect(String(err)).toMatch(/ENOENT/);
});
