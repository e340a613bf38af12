import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Filesystem } from "../../../api/gen/envd/filesystem/filesystem_pb.js";
import {
  Process,
  type ProcessEvent,
  type ProcessEvent_EndEvent,
} from "../../../api/gen/envd/process/process_pb.js";
import { startEnvd, type EnvdUnderTest } from "../../test-support/envd-process.js";

// One envd port, every protocol: Connect (JSON over HTTP/1.1, binary over h2c),
// gRPC-Web over HTTP/1.1 and gRPC over h2c, plus its behaviour under abuse.

interface Outcome {
  pid: number | undefined;
  stdout: string;
  stderr: string;
  ends: ProcessEvent_EndEvent[];
  kinds: string[];
}

/** Reads a Start or Connect stream to its end. */
async function collect(
  stream: AsyncIterable<{ event?: ProcessEvent }>,
  onEvent: (e: ProcessEvent["event"]) => void = () => undefined,
): Promise<Outcome> {
  const out: Outcome = { pid: undefined, stdout: "", stderr: "", ends: [], kinds: [] };
  const text = new TextDecoder();
  for await (const res of stream) {
    const ev = res.event?.event;
    if (!ev) continue;
    out.kinds.push(ev.case ?? "none");
    if (ev.case === "start") out.pid = ev.value.pid;
    if (ev.case === "data" && ev.value.output.case === "stdout")
      out.stdout += text.decode(ev.value.output.value);
    if (ev.case === "data" && ev.value.output.case === "stderr")
      out.stderr += text.decode(ev.value.output.value);
    if (ev.case === "end") out.ends.push(ev.value);
    onEvent(ev);
  }
  return out;
}

/** Polls `check` until it returns a value or the deadline passes. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The ConnectError a promise rejects with (fails the test when it resolves). */
async function connectError(p: Promise<unknown>): Promise<ConnectError> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (outcome === undefined) throw new Error("expected the call to fail");
  if (!(outcome instanceof ConnectError)) throw outcome;
  return outcome;
}

/** Splits a Connect streaming body into envelopes. */
function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    out.push({ flags: body[at] ?? 0, data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** The `error` object of a Connect end-stream envelope, if there is one. */
function endStreamError(body: Buffer): Record<string, unknown> | undefined {
  const end = envelopes(body).find((f) => (f.flags & 0x02) !== 0);
  const parsed: unknown = JSON.parse(end?.data.toString() ?? "null");
  return isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const bash = (script: string) => ({ process: { cmd: "/bin/bash", args: ["-c", script] } });

const agents: Agent[] = [];
const sessions: Http2SessionManager[] = [];

function newAgent(): Agent {
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  return agent;
}

function newSession(url: string): Http2SessionManager {
  const s = new Http2SessionManager(url);
  sessions.push(s);
  return s;
}

type TransportName = "connect-json-h1" | "connect-binary-h2" | "grpc-web-h1" | "grpc-h2";

function transport(name: TransportName, baseUrl: string): Transport {
  switch (name) {
    case "connect-json-h1":
      return createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        useBinaryFormat: false,
        nodeOptions: { agent: newAgent() },
      });
    case "connect-binary-h2":
      return createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        sessionManager: newSession(baseUrl),
      });
    case "grpc-web-h1":
      return createGrpcWebTransport({
        baseUrl,
        httpVersion: "1.1",
        nodeOptions: { agent: newAgent() },
      });
    case "grpc-h2":
      // gRPC always runs over HTTP/2: this transport has no httpVersion option.
      return createGrpcTransport({ baseUrl, sessionManager: newSession(baseUrl) });
  }
}

afterAll(() => {
  for (const s of sessions) s.abort();
  for (const a of agents) a.destroy();
});

describe("envd on one port, every protocol", () => {
  let envd: EnvdUnderTest;
  const clients = new Map<TransportName, Client<typeof Process>>();
  const processClient = (name: TransportName) => {
    let c = clients.get(name);
    if (!c) {
      c = createClient(Process, transport(name, envd.url));
      clients.set(name, c);
    }
    return c;
  };

  beforeAll(async () => {
    envd = await startEnvd();
  });
  afterAll(async () => {
    await envd?.stop();
  });

  test.each<TransportName>(["connect-json-h1", "connect-binary-h2", "grpc-web-h1", "grpc-h2"])(
    "Start over %s streams the same events",
    async (name) => {
      const out = await collect(
        processClient(name).start({
          process: { cmd: "/bin/bash", args: ["-l", "-c", "echo hi; echo err >&2; exit 3"] },
        }),
      );
      expect(out.kinds[0]).toBe("start");
      expect(out.kinds.at(-1)).toBe("end");
      expect(out.pid).toBeGreaterThan(0);
      expect(out.stdout).toBe("hi\n");
      expect(out.stderr).toBe("err\n");
      expect(out.ends).toHaveLength(1);
      expect(out.ends[0]).toMatchObject({ exitCode: 3, exited: true, status: "exit status 3" });
    },
  );

  test("a malformed Connect envelope is refused and envd keeps serving", async () => {
    const res = await fetch(`${envd.url}/process.Process/Start`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
      body: Buffer.from("\x00\x00\x00\x00\xff garbage", "latin1"),
    });
    const body = Buffer.from(await res.arrayBuffer());
    // Connect streams report errors in an end-stream envelope of an HTTP 200 response,
    // and nothing else may come back: no process was started from garbage.
    expect(res.status).toBe(200);
    expect(envelopes(body).map((f) => f.flags)).toEqual([0x02]);
    expect(endStreamError(body)).toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("envelope"),
    });

    expect((await fetch(`${envd.url}/health`)).status).toBe(204);
    const out = await collect(processClient("connect-json-h1").start(bash("echo still-here")));
    expect(out.stdout).toBe("still-here\n");
    expect(out.ends[0]?.exitCode).toBe(0);
  });

  test("invalid JSON to a unary Connect route is HTTP 400 with a JSON code", async () => {
    const res = await fetch(`${envd.url}/filesystem.Filesystem/Stat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body: unknown = await res.json();
    expect(body).toMatchObject({ code: "invalid_argument" });
  });

  test.each<TransportName>(["connect-json-h1", "grpc-h2"])(
    "a %s client that disconnects mid-stream does not kill the process",
    async (name) => {
      const client = processClient(name);
      const tag = `disconnect-${name}`;
      const ac = new AbortController();
      let firstData = "";
      const aborted = await connectError(
        collect(
          client.start(
            { ...bash("for i in $(seq 1 50); do echo $i; sleep 0.1; done"), tag },
            { signal: ac.signal },
          ),
          (ev) => {
            if (ev.case === "data" && firstData === "") {
              firstData = new TextDecoder().decode(ev.value.output.value);
              ac.abort();
            }
          },
        ),
      );
      expect(aborted.code).toBe(Code.Canceled);
      expect(firstData).toBe("1\n");

      // Find the process: it is still running and still ours to attach to.
      const listed = await processClient("grpc-h2").list({});
      const running = listed.processes.filter((p) => p.tag === tag);
      expect(running).toHaveLength(1);
      const pid = running[0]?.pid ?? 0;

      const attached = await collect(
        processClient("grpc-h2").connect({ process: { selector: { case: "pid", value: pid } } }),
      );
      expect(attached.pid).toBe(pid);
      expect(attached.ends).toHaveLength(1);
      expect(attached.ends[0]).toMatchObject({
        exitCode: 0,
        exited: true,
        status: "exit status 0",
      });
      expect(attached.stdout.endsWith("49\n50\n")).toBe(true);
    },
  );

  test("500 concurrent Start streams over one h2 connection, beside an undisturbed long stream", async () => {
    const client = createClient(Process, transport("grpc-h2", envd.url));

    // The long stream: a cat we ping-pong with for as long as the burst runs.
    let echoed = "";
    const long = collect(
      client.start({ process: { cmd: "cat" }, stdin: true, tag: "long-cat" }),
      (ev) => {
        if (ev.case === "data") echoed += new TextDecoder().decode(ev.value.output.value);
      },
    );
    const longPid = await eventually("the cat to start", async () => {
      const { processes } = await client.list({});
      return processes.find((p) => p.tag === "long-cat")?.pid;
    });
    const sent: string[] = [];
    const sendLine = async (line: string) => {
      sent.push(line);
      await client.sendInput({
        process: { selector: { case: "pid", value: longPid } },
        input: { input: { case: "stdin", value: new TextEncoder().encode(line) } },
      });
    };

    let burstDone = false;
    const burst = Promise.all(
      Array.from({ length: 500 }, async (_, n) => {
        const out = await collect(
          client.start({
            process: { cmd: "/bin/bash", args: ["-c", "echo $N"], envs: { N: String(n) } },
          }),
        );
        return { n, out };
      }),
    ).finally(() => (burstDone = true));

    let pings = 0;
    while (!burstDone) {
      await sendLine(`ping ${pings++}\n`);
      // Each line must come back on the long stream while the burst is still going on.
      await eventually("the echo on the long stream", () =>
        echoed === sent.join("") ? true : undefined,
      );
    }
    const results = await burst;
    await client.closeStdin({ process: { selector: { case: "pid", value: longPid } } });

    for (const { n, out } of results) {
      expect({
        n,
        stdout: out.stdout,
        exitCode: out.ends[0]?.exitCode,
        ends: out.ends.length,
      }).toEqual({
        n,
        stdout: `${n}\n`,
        exitCode: 0,
        ends: 1,
      });
    }

    const longOut = await long;
    expect(pings).toBeGreaterThan(0);
    expect(longOut.pid).toBe(longPid);
    expect(longOut.stdout).toBe(sent.join(""));
    expect(longOut.ends).toEqual([expect.objectContaining({ exitCode: 0 })]);
  });
});

// Every test here waits for its own audit lines, so each starts from a settled log.
describe("audit of relayed streams", () => {
  let envd: EnvdUnderTest;
  beforeAll(async () => {
    envd = await startEnvd();
  });
  afterAll(async () => {
    await envd?.stop();
  });

  test.each<TransportName>(["connect-json-h1", "connect-binary-h2", "grpc-h2"])(
    "a stream relayed over %s leaves one audit line with the status it ended with",
    async (name) => {
      const client = createClient(Process, transport(name, envd.url));
      const auditLines = (op: string, status: string) =>
        envd
          .output()
          .split("\n")
          .filter(
            (l) =>
              l.includes('"audit":true') &&
              l.includes(`"op":"process.Process/${op}"`) &&
              l.includes(`"status":"${status}"`),
          ).length;
      const ok = auditLines("Start", "OK");
      const notFound = auditLines("Connect", "NotFound");
      expect((await collect(client.start(bash("exit 0")))).ends[0]?.exitCode).toBe(0);
      const missing = await connectError(
        collect(client.connect({ process: { selector: { case: "pid", value: 999_999_999 } } })),
      );
      expect(missing.code).toBe(Code.NotFound);
      // Audit lines reach us through a pipe: poll.
      await eventually("the audit lines", () =>
        auditLines("Start", "OK") === ok + 1 && auditLines("Connect", "NotFound") === notFound + 1
          ? true
          : undefined,
      );
    },
  );
});

describe("envd whose executor does not answer", () => {
  let envd: EnvdUnderTest;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sbx-no-executor-"));
    envd = await startEnvd(["--executor-socket", join(dir, "executor.sock")]);
  });
  afterAll(async () => {
    await envd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test.each<TransportName>(["connect-json-h1", "connect-binary-h2", "grpc-h2"])(
    "a stream over %s ends UNAVAILABLE, and the audit line says so",
    async (name) => {
      const auditLines = () =>
        envd
          .output()
          .split("\n")
          .filter((l) => /"op":"process\.Process\/Start".*"status":"Unavailable"/.test(l)).length;
      const before = auditLines();
      const client = createClient(Process, transport(name, envd.url));
      const err = await connectError(collect(client.start(bash("echo never"))));
      expect(Code[err.code]).toBe(Code[Code.Unavailable]);
      expect(err.rawMessage).toMatch(/executor/);
      await eventually("the audit line", () => (auditLines() === before + 1 ? true : undefined));
    },
  );
});

describe("envd with --access-token", () => {
  let envd: EnvdUnderTest;
  beforeAll(async () => {
    envd = await startEnvd(["--access-token", "secret"]);
  });
  afterAll(async () => {
    await envd?.stop();
  });

  test.each<TransportName>(["connect-json-h1", "grpc-h2"])(
    "RPCs over %s need X-Access-Token",
    async (name) => {
      const t = transport(name, envd.url);
      const proc = createClient(Process, t);
      const fs = createClient(Filesystem, t);

      const missing = await connectError(proc.list({}));
      expect(Code[missing.code]).toBe(Code[Code.Unauthenticated]);
      const wrong = await connectError(
        fs.stat({ path: "/" }, { headers: { "X-Access-Token": "nope" } }),
      );
      expect(Code[wrong.code]).toBe(Code[Code.Unauthenticated]);
      const streamMissing = await connectError(collect(proc.start(bash("echo no"))));
      expect(Code[streamMissing.code]).toBe(Code[Code.Unauthenticated]);

      const headers = { "X-Access-Token": "secret" };
      const stat = await fs.stat({ path: "/" }, { headers });
      expect(stat.entry?.path).toBe("/");
      const out = await collect(proc.start(bash("echo yes"), { headers }));
      expect(out.stdout).toBe("yes\n");
      expect(out.ends[0]?.exitCode).toBe(0);
    },
  );

  test("GET /health needs no token", async () => {
    const res = await fetch(`${envd.url}/health`);
    expect(res.status).toBe(204);
  });
});
