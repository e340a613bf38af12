/**
 * A long, chatty stream must not make the sidecar hold what it already passed
 * on (connect-es's stock client did: see link-transport.ts). 512 MB of stdout
 * go through while the sidecar's RSS is sampled.
 */
import { readFileSync } from "node:fs";
import { startEnvd, type EnvdUnderTest } from "../../test-support/envd-process.js";

let envd: EnvdUnderTest;
beforeAll(async () => {
  envd = await startEnvd();
});
afterAll(async () => {
  await envd.stop();
});

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
}

/** One Connect streaming request envelope (flags 0) around a JSON message. */
function envelope(message: unknown): Uint8Array {
  const body = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

test("streaming 512 MB of stdout keeps the sidecar's memory flat", async () => {
  const total = 512 * 1024 * 1024;
  const res = await fetch(`${envd.url}/process.Process/Start`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", "connect-protocol-version": "1" },
    body: envelope({ process: { cmd: "/bin/bash", args: ["-c", `head -c ${total} /dev/zero`] } }),
  });
  expect(res.status).toBe(200);
  let received = 0;
  let peak = 0;
  let next = 0;
  let tail = "";
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    received += chunk.byteLength;
    tail = (tail + Buffer.from(chunk.subarray(-300)).toString("latin1")).slice(-400);
    if (received >= next) {
      peak = Math.max(peak, rssMiB(envd.pid));
      next += 32 << 20;
    }
  }
  // JSON carries the bytes as base64: about 4/3 of them went by.
  expect(received).toBeGreaterThan(total);
  expect(tail).toContain('"status":"exit status 0"');
  expect(peak).toBeLessThan(400);
}, 180_000);
