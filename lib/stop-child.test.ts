import { spawn } from "node:child_process";
import { stopChild } from "./stop-child.js";

// Spawning is what this module is about; `sleep` is the smallest real child there is.
test("a child that takes SIGTERM exits on it", async () => {
  const child = spawn("sleep", ["30"]);
  await stopChild(child);
  expect(child.signalCode).toBe("SIGTERM");
});

test("a child that ignores SIGTERM is killed after the grace period", async () => {
  const child = spawn("sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"]);
  await new Promise((r) => child.stdout.once("data", r));
  await stopChild(child, 200);
  expect(child.signalCode).toBe("SIGKILL");
});

test("a child that has exited already is left alone", async () => {
  const child = spawn("true");
  await new Promise((r) => child.once("exit", r));
  await expect(stopChild(child)).resolves.toBeUndefined();
});
