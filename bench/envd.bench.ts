/**
 * envd benchmark: starts a real envd (sidecar + executor, from dist/), measures
 * RPC latency, stream and file throughput, concurrency and idle memory, prints a
 * Markdown table to stdout and stops envd. Run with `npm run bench:envd`.
 */
import { randomFillSync } from "node:crypto";
import { chmod, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Process } from "../api/gen/envd/process/process_pb.js";
import { startEnvd, type EnvdUnderTest } from "../envd/test-support/envd-process.js";

const RTT_WARMUP = 20;
const RTT_ITERATIONS = 200;
const STDOUT_BYTES = 1024 ** 3;
const STDOUT_LABEL = "1G";
const FILE_BYTES = 256 * 1024 ** 2;
const FILE_CHUNK = 1024 ** 2;
const CONCURRENT = 200;
const IDLE_PAUSE_MS = 2000;

type ProcessClient = Client<typeof Process>;

interface Row {
  what: string;
  value: string;
}

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

/** Runs `cmd` via Process.Start and consumes the stream to its end event; returns stdout bytes seen. */
async function run(
  client: ProcessClient,
  cmd: string,
  args: string[],
  onFirstByte?: () => void,
): Promise<{ stdoutBytes: number; exitCode: number }> {
  let stdoutBytes = 0;
  let exitCode: number | undefined;
  for await (const res of client.start({ process: { cmd, args } })) {
    const event = res.event?.event;
    if (event?.case === "data" && event.value.output.case === "stdout") {
      if (stdoutBytes === 0) onFirstByte?.();
      stdoutBytes += event.value.output.value.byteLength;
    } else if (event?.case === "end") {
      exitCode = event.value.exitCode;
    }
  }
  if (exitCode === undefined)
    throw new Error(`${cmd} ${args.join(" ")}: the stream ended without an end event`);
  return { stdoutBytes, exitCode };
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** p50/p99 in ms of `bash -l -c true` round trips (what the E2B SDK sends for a command). */
async function roundTrip(client: ProcessClient): Promise<{ p50: number; p99: number }> {
  const once = async () => {
    const { exitCode } = await run(client, "/bin/bash", ["-l", "-c", "true"]);
    if (exitCode !== 0) throw new Error(`bash -l -c true exited with ${exitCode}`);
  };
  for (let i = 0; i < RTT_WARMUP; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < RTT_ITERATIONS; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function stdoutThroughput(client: ProcessClient): Promise<number> {
  let first = 0;
  const { stdoutBytes } = await run(
    client,
    "/usr/bin/head",
    ["-c", String(STDOUT_BYTES), "/dev/zero"],
    () => {
      first = performance.now();
    },
  );
  const ms = performance.now() - first;
  if (stdoutBytes !== STDOUT_BYTES)
    throw new Error(`head: got ${stdoutBytes} bytes, expected ${STDOUT_BYTES}`);
  return ms;
}

async function* fileBody(): AsyncGenerator<Buffer> {
  // Random bytes (one MiB, repeated) so that a gzip-encoded download cannot shrink it.
  const chunk = randomFillSync(Buffer.alloc(FILE_CHUNK));
  for (let sent = 0; sent < FILE_BYTES; sent += FILE_CHUNK) yield chunk;
}

async function upload(url: string, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/files?path=${encodeURIComponent(path)}`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: Readable.toWeb(Readable.from(fileBody())) as ReadableStream<Uint8Array>,
    duplex: "half",
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`upload answered ${res.status}: ${text}`);
  return ms;
}

async function download(url: string, path: string, acceptEncoding: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/files?path=${encodeURIComponent(path)}`, {
    headers: { "accept-encoding": acceptEncoding },
  });
  if (res.status !== 200 || !res.body)
    throw new Error(`download answered ${res.status}: ${await res.text()}`);
  let bytes = 0;
  for await (const chunk of res.body as WebReadableStream<Uint8Array>) bytes += chunk.byteLength;
  const ms = performance.now() - t0;
  if (bytes !== FILE_BYTES) throw new Error(`download: got ${bytes} bytes, expected ${FILE_BYTES}`);
  return ms;
}

async function concurrentEcho(client: ProcessClient): Promise<number> {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: CONCURRENT }, () => run(client, "/bin/echo", ["hi"])),
  );
  const ms = performance.now() - t0;
  const bad = results.filter((r) => r.exitCode !== 0 || r.stdoutBytes !== 3).length;
  if (bad > 0) throw new Error(`${bad} of ${CONCURRENT} echo commands failed`);
  return ms;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

/** The executor: the child of the sidecar process (read from /proc/<pid>/stat). */
async function childPids(ppid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === ppid) pids.push(Number(name));
  }
  return pids;
}

async function main() {
  const header = `envd benchmark: ${availableParallelism()} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}`;
  console.log(header);
  console.log();
  const rows: Row[] = [];
  const dir = await mkdtemp(join(tmpdir(), "envd-bench-"));
  // envd runs commands and file I/O as the sandbox user ('user' when we are root).
  await chmod(dir, 0o777);
  let envd: EnvdUnderTest | undefined;
  try {
    envd = await startEnvd();
    const connect = createClient(
      Process,
      createConnectTransport({ baseUrl: envd.url, httpVersion: "1.1" }),
    );
    const grpc = createClient(Process, createGrpcTransport({ baseUrl: envd.url }));

    progress("round trips over Connect (HTTP/1.1)");
    const c = await roundTrip(connect);
    rows.push({
      what: "run `bash -l -c true`, Connect HTTP/1.1, p50",
      value: `${c.p50.toFixed(2)} ms`,
    });
    rows.push({
      what: "run `bash -l -c true`, Connect HTTP/1.1, p99",
      value: `${c.p99.toFixed(2)} ms`,
    });

    progress("round trips over gRPC (HTTP/2)");
    const g = await roundTrip(grpc);
    rows.push({ what: "run `bash -l -c true`, gRPC HTTP/2, p50", value: `${g.p50.toFixed(2)} ms` });
    rows.push({ what: "run `bash -l -c true`, gRPC HTTP/2, p99", value: `${g.p99.toFixed(2)} ms` });

    progress(`stdout throughput (head -c ${STDOUT_LABEL})`);
    const s = await stdoutThroughput(grpc);
    rows.push({
      what: `stdout of \`head -c ${STDOUT_LABEL} /dev/zero\`, gRPC`,
      value: `${mbps(STDOUT_BYTES, s)} MB/s (${(s / 1000).toFixed(1)} s)`,
    });

    const file = join(dir, "blob.bin");
    progress("upload 256 MiB");
    const up = await upload(envd.url, file);
    rows.push({
      what: "upload 256 MiB, `POST /files` octet-stream",
      value: `${mbps(FILE_BYTES, up)} MB/s (${(up / 1000).toFixed(1)} s)`,
    });
    progress("download 256 MiB");
    const down = await download(envd.url, file, "identity");
    rows.push({
      what: "download 256 MiB, `GET /files`, identity",
      value: `${mbps(FILE_BYTES, down)} MB/s (${(down / 1000).toFixed(1)} s)`,
    });
    progress("download 256 MiB gzip");
    const downGz = await download(envd.url, file, "gzip");
    rows.push({
      what: "download 256 MiB, `GET /files`, gzip (fetch's default)",
      value: `${mbps(FILE_BYTES, downGz)} MB/s (${(downGz / 1000).toFixed(1)} s)`,
    });
    await rm(file, { force: true });

    progress(`${CONCURRENT} concurrent echo`);
    const e = await concurrentEcho(grpc);
    rows.push({
      what: `${CONCURRENT} concurrent \`echo hi\`, gRPC, wall time`,
      value: `${e.toFixed(0)} ms`,
    });

    progress("idle RSS");
    await sleep(IDLE_PAUSE_MS);
    const children = await childPids(envd.pid);
    if (children.length !== 1)
      throw new Error(`expected one executor child of ${envd.pid}, found ${children.length}`);
    const executorPid = children[0] ?? 0;
    rows.push({ what: "idle RSS, sidecar", value: `${(await rssMiB(envd.pid)).toFixed(1)} MiB` });
    rows.push({
      what: "idle RSS, executor",
      value: `${(await rssMiB(executorPid)).toFixed(1)} MiB`,
    });
  } finally {
    await envd?.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`| ${"Measurement".padEnd(width)} | Result |`);
  console.log(`| ${"-".repeat(width)} | ------ |`);
  for (const r of rows) console.log(`| ${r.what.padEnd(width)} | ${r.value} |`);
}

await main();
