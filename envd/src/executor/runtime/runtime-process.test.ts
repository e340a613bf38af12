import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type Interceptor,
} from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Runtime,
  type EndEvent,
  type RunRequestSchema,
  type RunResponse,
} from "../../../../api/gen/envd/soulbox/runtime/v1/runtime_pb.js";
import { runtimeNames } from "../../../../api/runtimes.js";
import { startEnvd, type EnvdUnderTest } from "../../../test-support/envd-process.js";
import { eventually } from "../../../test-support/eventually.js";

// soulbox.runtime.v1.Runtime through a real envd (sidecar + executor) with the real runtime
// binaries of this host: python3, node and bash on PATH, deno and bun from node_modules.

const ROOT = join(import.meta.dirname, "../../../..");
const TOKEN = "runtime-secret";

/** What a Run stream said, in order. */
interface RunOutcome {
  kinds: string[];
  pid: number | undefined;
  runtime: string | undefined;
  stdout: string;
  stderr: string;
  truncatedAt: bigint | undefined;
  /** Event kinds seen after `truncated`. */
  afterTruncated: string[];
  end: EndEvent | undefined;
}

async function collect(stream: AsyncIterable<RunResponse>): Promise<RunOutcome> {
  const out: RunOutcome = {
    kinds: [],
    pid: undefined,
    runtime: undefined,
    stdout: "",
    stderr: "",
    truncatedAt: undefined,
    afterTruncated: [],
    end: undefined,
  };
  const text = new TextDecoder();
  for await (const res of stream) {
    const ev = res.event;
    if (ev.case === undefined || ev.case === "keepalive") continue;
    out.kinds.push(ev.case);
    if (out.truncatedAt !== undefined && ev.case !== "truncated") out.afterTruncated.push(ev.case);
    if (ev.case === "start") {
      out.pid = ev.value.pid;
      out.runtime = ev.value.runtime;
    }
    if (ev.case === "stdout") out.stdout += text.decode(ev.value);
    if (ev.case === "stderr") out.stderr += text.decode(ev.value);
    if (ev.case === "truncated") out.truncatedAt = ev.value.limitBytes;
    if (ev.case === "end") out.end = ev.value;
  }
  return out;
}

async function connectError(p: Promise<unknown>): Promise<ConnectError> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (outcome === undefined) throw new Error("expected the call to fail");
  if (!(outcome instanceof ConnectError)) throw outcome;
  return outcome;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let envd: EnvdUnderTest;
let binDir: string;
let sessions: Http2SessionManager;
/** Connect binary over h2c: server streams take the sidecar's byte relay. */
let relayed: Client<typeof Runtime>;
/** gRPC-Web: the relay declines it, so streams go through the decoding forwarder. */
let forwarded: Client<typeof Runtime>;
/** A PATH with deno and bun (from node_modules) besides the system's binaries. */
let withAllBinaries: string;

beforeAll(async () => {
  binDir = mkdtempSync(join(tmpdir(), "soulbox-runtime-bin-"));
  symlinkSync(join(ROOT, "node_modules/@deno/linux-x64-glibc/deno"), join(binDir, "deno"));
  symlinkSync(join(ROOT, "node_modules/@oven/bun-linux-x64/bin/bun"), join(binDir, "bun"));
  withAllBinaries = `${binDir}:/usr/local/bin:/usr/bin:/bin`;
  // Root runs requests as root (Basic root) below: the test's node_modules need not be the
  // default user's to read.
  envd = await startEnvd(["--access-token", TOKEN, "--default-user", "root"]);
  const headers = { "x-access-token": TOKEN };
  sessions = new Http2SessionManager(envd.url);
  relayed = createClient(
    Runtime,
    createConnectTransport({
      baseUrl: envd.url,
      httpVersion: "2",
      useBinaryFormat: true,
      sessionManager: sessions,
      interceptors: [withHeaders(headers)],
    }),
  );
  forwarded = createClient(
    Runtime,
    createGrpcWebTransport({
      baseUrl: envd.url,
      httpVersion: "1.1",
      interceptors: [withHeaders(headers)],
    }),
  );
}, 30_000);

afterAll(async () => {
  sessions?.abort();
  await envd?.stop();
  rmSync(binDir, { recursive: true, force: true });
});

function withHeaders(headers: Record<string, string>): Interceptor {
  return (next) => async (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
}

const run = (
  client: Client<typeof Runtime>,
  req: MessageInitShape<typeof RunRequestSchema>,
  timeoutMs = 60_000,
) => collect(client.run(req, { timeoutMs }));

describe("Runtime.List", () => {
  it("lists every runtime with its binary on the sandbox's PATH", async () => {
    const res = await relayed.list({});
    expect(res.runtimes.map((r) => r.name)).toEqual(runtimeNames());
    const bash = res.runtimes.find((r) => r.name === "bash");
    expect(bash).toMatchObject({
      binary: "bash",
      available: true,
      languages: ["bash", "sh", "shell"],
    });
    expect(bash?.binaryPath).toMatch(/\/bash$/);
    const python = res.runtimes.find((r) => r.name === "python");
    expect(python?.features).toMatchObject({
      stateful: true,
      packageInstall: true,
      typescript: false,
    });
    // edge serves modules: never runnable once, whatever is installed.
    expect(res.runtimes.find((r) => r.name === "edge")?.available).toBe(false);
  });

  it("refuses a call without the access token", async () => {
    const bare = createClient(
      Runtime,
      createConnectTransport({ baseUrl: envd.url, httpVersion: "1.1" }),
    );
    expect((await connectError(bare.list({}))).code).toBe(Code.Unauthenticated);
    const err = await connectError(collect(bare.run({ runtime: "bash", code: "echo no" })));
    expect(err.code).toBe(Code.Unauthenticated);
  });
});

describe("Runtime.Run", () => {
  it.each([
    ["relayed", () => relayed],
    ["forwarded", () => forwarded],
  ])("streams stdout, stderr and the exit code (%s)", async (_name, client) => {
    const out = await run(client(), {
      runtime: "python",
      code: 'import sys\nprint("to out", flush=True)\nprint("to err", file=sys.stderr)\nsys.exit(3)',
    });
    expect(out.kinds[0]).toBe("start");
    expect(out.kinds.at(-1)).toBe("end");
    expect(out.runtime).toBe("python");
    expect(out.pid).toBeGreaterThan(0);
    expect(out.stdout).toBe("to out\n");
    expect(out.stderr).toBe("to err\n");
    expect(out.end).toMatchObject({ exitCode: 3, timedOut: false, status: "exit status 3" });
    expect(out.truncatedAt).toBeUndefined();
  });

  it.each<[string, { runtime?: string; fileName?: string; code: string }, string]>([
    [
      "node",
      { runtime: "node", code: "console.log('node', await Promise.resolve(1 + 1))" },
      "node 2\n",
    ],
    [
      "deno (typescript)",
      { runtime: "ts", code: "const n: number = 3;\nconsole.log(`ts ${n}`);" },
      "ts 3\n",
    ],
    ["bun", { runtime: "bun", code: "const n: number = 4;\nconsole.log(`bun ${n}`);" }, "bun 4\n"],
    ["r", { runtime: "R", code: 'x <- c(1, 2)\ncat("r", sum(x) * 3, "\\n")' }, "r 9 \n"],
    [
      "java (jshell snippets)",
      { runtime: "java", code: 'int n = 3 + 4;\nSystem.out.println("java " + n);' },
      "java 7\n",
    ],
    [
      "bash, detected from the file name",
      { fileName: "job.sh", code: 'echo "bash $((2 + 3))"' },
      "bash 5\n",
    ],
    [
      "python, detected from the shebang",
      { code: "#!/usr/bin/env python3\nprint('py', 6)" },
      "py 6\n",
    ],
  ])("runs %s", async (_name, req, stdout) => {
    const out = await run(relayed, { ...req, envs: { PATH: withAllBinaries } });
    expect(out.end?.exitCode).toBe(0);
    expect(out.stdout).toBe(stdout);
  });

  it("gives the code its env and cwd", async () => {
    const out = await run(relayed, {
      runtime: "bash",
      code: 'echo "$GREETING from $(pwd)"',
      envs: { GREETING: "hello" },
      cwd: "/tmp",
    });
    expect(out.stdout).toBe("hello from /tmp\n");
  });

  it("kills the process when timeout_ms runs out, and says so", async () => {
    const started = Date.now();
    const out = await run(relayed, {
      runtime: "python",
      code: 'import time\nprint("started", flush=True)\ntime.sleep(60)',
      timeoutMs: 1000,
    });
    expect(out.stdout).toBe("started\n");
    expect(out.end).toMatchObject({ timedOut: true, exitCode: -1, status: "signal: killed" });
    expect(Number(out.end?.durationMs)).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(pidAlive(out.pid ?? 0)).toBe(false);
  });

  it("the timeout also ends what the code started in the background", async () => {
    const out = await run(relayed, {
      runtime: "bash",
      code: "sleep 300 & echo $!; sleep 300",
      timeoutMs: 1000,
    });
    expect(out.end).toMatchObject({ timedOut: true, status: "signal: killed" });
    const background = Number(out.stdout.trim());
    expect(background).toBeGreaterThan(0);
    expect(background).not.toBe(out.pid);
    await eventually(() => (pidAlive(background) ? undefined : true), 15_000);
  });

  it("a client going away leaves the process to its timeout", async () => {
    const abort = new AbortController();
    let pid = 0;
    const stream = relayed.run(
      {
        runtime: "python",
        code: "import time\nprint('up', flush=True)\ntime.sleep(60)",
        timeoutMs: 3000,
      },
      { signal: abort.signal },
    );
    await connectError(
      (async () => {
        for await (const res of stream) {
          if (res.event.case === "start") pid = res.event.value.pid;
          if (res.event.case === "stdout") abort.abort();
        }
      })(),
    );
    expect(pid).toBeGreaterThan(0);
    // Still running after the client left (python3 prints "up" only once it runs) ...
    expect(pidAlive(pid)).toBe(true);
    // ... until the timeout kills it.
    await eventually(() => (pidAlive(pid) ? undefined : true), 15_000);
  });

  it("stops output (not the process) past max_output_bytes and says so", async () => {
    const out = await run(relayed, {
      runtime: "python",
      // 100 000 bytes to stdout, then a line to stderr and exit 0: the process runs to its end.
      code: 'import sys\nsys.stdout.write("x" * 100000)\nsys.stdout.flush()\nprint("after", file=sys.stderr)',
      maxOutputBytes: 1000n,
    });
    expect(out.stdout.length + out.stderr.length).toBe(1000);
    expect(out.stdout).toBe("x".repeat(1000));
    expect(out.truncatedAt).toBe(1000n);
    expect(out.afterTruncated).toEqual(["end"]);
    expect(out.end).toMatchObject({ exitCode: 0, timedOut: false, droppedBytes: 99_000n + 6n });
  });

  it.each([
    [
      "an unknown runtime",
      { runtime: "cobol", code: "DISPLAY 'HI'." },
      /unknown runtime 'cobol'; supported runtimes are python, .*bash/,
    ],
    [
      "nothing to detect",
      { fileName: "notes.txt", code: "print(1)" },
      /none detected .*supported runtimes are python/,
    ],
    [
      "a runtime that only serves",
      { runtime: "edge", code: "export default {}" },
      /'edge' serves a module/,
    ],
  ])("refuses %s with InvalidArgument", async (_name, req, message) => {
    const err = await connectError(run(relayed, req));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(message);
  });

  it("refuses a runtime whose binary is not on PATH with FailedPrecondition", async () => {
    const empty = mkdtempSync(join(tmpdir(), "soulbox-runtime-empty-"));
    try {
      const err = await connectError(
        run(relayed, { runtime: "python", code: "print(1)", envs: { PATH: empty } }),
      );
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toMatch(/runtime 'python' needs 'python3', which is not on PATH/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
