/**
 * envd benchmark: starts a real envd (sidecar + executor, from dist/), measures RPC latency,
 * stream and file throughput, concurrency and idle memory, and stops it; then does the same, with
 * the same client code, against E2B's own envd (Go) when one is built (bench/e2b-envd.sh, or
 * E2B_ENVD=<binary>). Prints one Markdown table to stdout: SoulBox, E2B envd and their ratio.
 * Run with `npm run bench:envd` (as root: both envds start commands as the user `user`).
 */
import { randomFillSync } from "node:crypto";
import { connect as connectHttp2 } from "node:http2";
import { chmod, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Process } from "../api/gen/envd/process/process_pb.js";
import { startEnvd } from "../envd/test-support/envd-process.js";
import { E2B_ENVD_FLAGS, findE2bEnvd, startE2bEnvd } from "./e2b-envd-process.js";
import { progress, sleep } from "./support.js";

const RTT_WARMUP = 20;
const RTT_ITERATIONS = 200;
const STDOUT_BYTES = 1024 ** 3;
const STDOUT_LABEL = "1G";
const FILE_BYTES = 256 * 1024 ** 2;
const FILE_CHUNK = 1024 ** 2;
const CONCURRENT = 200;
const IDLE_PAUSE_MS = 2000;

/**
 * The user every request names, the way E2B's SDK does: `Authorization: Basic base64("user:")`
 * on RPCs and `username=` on /files. Ours defaults to `user` anyway; E2B's envd defaults to root
 * until its orchestrator's /init says otherwise, so naming the user keeps both doing the same work.
 */
const USER = "user";
const BASIC_USER = `Basic ${Buffer.from(`${USER}:`).toString("base64")}`;
const asUser: Interceptor = (next) => (req) => {
  req.header.set("authorization", BASIC_USER);
  return next(req);
};

type ProcessClient = Client<typeof Process>;

/** An envd under test: where it listens, which processes make it up, how to stop it. */
interface Target {
  name: string;
  url: string;
  /** Its processes, labelled; their RSS summed is the target's memory. */
  processes(): Promise<{ label: string; pid: number }[]>;
  stop(): Promise<void>;
}

/**
 * One table line as one target measured it. `value` is what the ratio compares (ms, MB/s or
 * MiB); it is absent where the target cannot be measured that way (no HTTP/2 without TLS).
 */
interface Row {
  what: string;
  better: "higher" | "lower";
  value?: number;
  shown?: string;
}

const latencyRow = (what: string, ms?: number): Row => ({
  what,
  better: "lower",
  ...(ms !== undefined && { value: ms, shown: `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(2)} ms` }),
});
const throughputRow = (what: string, bytes: number, ms?: number): Row => {
  if (ms === undefined) return { what, better: "higher" };
  const mbps = bytes / 1e6 / (ms / 1000);
  return {
    what,
    better: "higher",
    value: mbps,
    shown: `${mbps.toFixed(0)} MB/s (${(ms / 1000).toFixed(1)} s)`,
  };
};

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

const filesUrl = (url: string, path: string) =>
  `${url}/files?path=${encodeURIComponent(path)}&username=${USER}`;

async function upload(url: string, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(filesUrl(url, path), {
    method: "POST",
    headers: { "content-type": "application/octet-stream", authorization: BASIC_USER },
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
  const res = await fetch(filesUrl(url, path), {
    headers: { "accept-encoding": acceptEncoding, authorization: BASIC_USER },
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

/**
 * Whether `url` speaks HTTP/2 without TLS (prior knowledge), which gRPC needs. E2B's envd is a
 * plain Go http.Server without h2c, so its gRPC rows are measured only if a later version adds it.
 */
async function speaksH2c(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const session = connectHttp2(url);
    const done = (ok: boolean) => {
      session.destroy();
      resolve(ok);
    };
    session.on("error", () => done(false));
    session.setTimeout(2000, () => done(false));
    const req = session.request({ ":path": "/health" });
    req.on("response", (headers) => done(headers[":status"] === 204));
    req.on("error", () => done(false));
    req.end();
  });
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

/** Every row, in table order, for one target; `dir` is a scratch directory `user` may write. */
async function measure(target: Target, dir: string): Promise<Row[]> {
  const say = (msg: string) => progress(`${target.name}: ${msg}`);
  const rows: Row[] = [];
  const connect = createClient(
    Process,
    createConnectTransport({ baseUrl: target.url, httpVersion: "1.1", interceptors: [asUser] }),
  );
  const h2 = await speaksH2c(target.url);
  if (!h2) say("no HTTP/2 without TLS: the gRPC rows stay empty");
  const grpc = h2
    ? createClient(Process, createGrpcTransport({ baseUrl: target.url, interceptors: [asUser] }))
    : undefined;

  say("round trips over Connect (HTTP/1.1)");
  const c = await roundTrip(connect);
  rows.push(latencyRow("run `bash -l -c true`, Connect HTTP/1.1, p50", c.p50));
  rows.push(latencyRow("run `bash -l -c true`, Connect HTTP/1.1, p99", c.p99));
  say("round trips over gRPC (HTTP/2)");
  const g = grpc && (await roundTrip(grpc));
  rows.push(latencyRow("run `bash -l -c true`, gRPC HTTP/2, p50", g?.p50));
  rows.push(latencyRow("run `bash -l -c true`, gRPC HTTP/2, p99", g?.p99));

  // Over Connect as well as gRPC: Connect HTTP/1.1 is what E2B's JS SDK speaks, and the only
  // protocol both envds share.
  say(`stdout throughput (head -c ${STDOUT_LABEL}), Connect`);
  const stdout = `stdout of \`head -c ${STDOUT_LABEL} /dev/zero\``;
  rows.push(throughputRow(`${stdout}, Connect`, STDOUT_BYTES, await stdoutThroughput(connect)));
  say(`stdout throughput (head -c ${STDOUT_LABEL}), gRPC`);
  rows.push(throughputRow(`${stdout}, gRPC`, STDOUT_BYTES, grpc && (await stdoutThroughput(grpc))));

  const file = join(dir, "blob.bin");
  say("upload 256 MiB");
  const up = await upload(target.url, file);
  rows.push(throughputRow("upload 256 MiB, `POST /files` octet-stream", FILE_BYTES, up));
  say("download 256 MiB");
  const down = await download(target.url, file, "identity");
  rows.push(throughputRow("download 256 MiB, `GET /files`, identity", FILE_BYTES, down));
  say("download 256 MiB gzip");
  const downGz = await download(target.url, file, "gzip");
  rows.push(
    throughputRow("download 256 MiB, `GET /files`, gzip (fetch's default)", FILE_BYTES, downGz),
  );
  await rm(file, { force: true });

  say(`${CONCURRENT} concurrent echo, Connect`);
  const echo = `${CONCURRENT} concurrent \`echo hi\``;
  rows.push(latencyRow(`${echo}, Connect HTTP/1.1, wall time`, await concurrentEcho(connect)));
  say(`${CONCURRENT} concurrent echo, gRPC`);
  rows.push(latencyRow(`${echo}, gRPC, wall time`, grpc && (await concurrentEcho(grpc))));

  say("idle RSS");
  await sleep(IDLE_PAUSE_MS);
  const procs = await target.processes();
  const rss = await Promise.all(procs.map(async (p) => ({ ...p, mib: await rssMiB(p.pid) })));
  const total = rss.reduce((sum, p) => sum + p.mib, 0);
  const parts = rss.map((p) => `${p.label} ${p.mib.toFixed(1)}`).join(" + ");
  rows.push({
    what: "idle RSS after the above, all envd processes",
    better: "lower",
    value: total,
    shown: `${total.toFixed(1)} MiB${rss.length > 1 ? ` (${parts})` : ""}`,
  });
  return rows;
}

/** SoulBox's envd: the sidecar (dist/envd.mjs) and its one child, the executor. */
async function soulbox(): Promise<Target> {
  const envd = await startEnvd();
  return {
    name: "SoulBox",
    url: envd.url,
    async processes() {
      const children = await childPids(envd.pid);
      if (children.length !== 1)
        throw new Error(`expected one executor child of ${envd.pid}, found ${children.length}`);
      return [
        { label: "sidecar", pid: envd.pid },
        { label: "executor", pid: children[0] ?? 0 },
      ];
    },
    stop: () => envd.stop(),
  };
}

/** E2B's envd: one process; commands it runs have exited by the time RSS is read. */
async function e2b(binary: string): Promise<Target> {
  const envd = await startE2bEnvd(binary);
  return {
    name: "E2B envd",
    url: envd.url,
    processes: () => Promise.resolve([{ label: "envd", pid: envd.pid }]),
    stop: () => envd.stop(),
  };
}

/** Starts a target, measures it and stops it whatever happens. */
async function measureTarget(start: () => Promise<Target>, dir: string): Promise<Row[]> {
  const target = await start();
  try {
    return await measure(target, dir);
  } finally {
    await target.stop();
  }
}

/**
 * The table. The ratio is SoulBox relative to E2B, oriented so that ≥ 1 means SoulBox is at
 * least as good: ours/theirs for throughput, theirs/ours for times and memory.
 */
function table(ours: Row[], theirs: Row[] | undefined): string {
  const lines = ours.map((o, i) => {
    const t = theirs?.[i];
    if (!theirs) return [o.what, o.shown ?? "n/a"];
    if (t?.what !== o.what) throw new Error(`row ${i}: ${o.what} vs ${t?.what}`);
    const ratio =
      o.value !== undefined && t.value !== undefined
        ? (o.better === "higher" ? o.value / t.value : t.value / o.value).toFixed(2)
        : "n/a";
    return [o.what, o.shown ?? "n/a", t.shown ?? "n/a", ratio];
  });
  const head = theirs
    ? ["Measurement", "SoulBox", "E2B envd", "ratio"]
    : ["Measurement", "SoulBox"];
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] ?? "").length)));
  const fmt = (cells: string[]) =>
    `| ${cells.map((x, c) => x.padEnd(widths[c] ?? 0)).join(" | ")} |`;
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n");
}

async function main() {
  console.log(
    `envd benchmark: ${availableParallelism()} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}`,
  );
  const anchor = await findE2bEnvd();
  if (anchor)
    console.log(
      `E2B envd: ${anchor.version}, commit ${anchor.commit}, \`${anchor.path} ${E2B_ENVD_FLAGS.join(" ")}\``,
    );
  else
    process.stderr.write(
      "[bench] no E2B envd to compare with: build one with `E2B_INFRA_SRC=<e2b-dev/infra checkout> bench/e2b-envd.sh` (or set E2B_ENVD=<binary>)\n",
    );
  console.log();

  const dir = await mkdtemp(join(tmpdir(), "envd-bench-"));
  // Both envds run commands and file I/O as the sandbox user, not as root.
  await chmod(dir, 0o777);
  try {
    // One after the other, never both at once: each has the machine to itself.
    const ours = await measureTarget(soulbox, dir);
    const theirs = anchor && (await measureTarget(() => e2b(anchor.path), dir));
    if (theirs)
      console.log(
        "ratio: SoulBox relative to E2B envd, ≥ 1.00 means SoulBox is at least as good (throughput SoulBox/E2B; times and memory E2B/SoulBox)\n",
      );
    console.log(table(ours, theirs));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
