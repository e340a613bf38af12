import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import type { ClientReadableStream, ServiceError, StatusObject } from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { startEnvd, type EnvdUnderTest } from "../../test-support/envd-process.js";

// A stock grpc-js client, built at runtime from the repo's .proto files, against a real envd.

const protoDir = fileURLToPath(new URL("../../../proto", import.meta.url));

// ---- The message shapes proto-loader produces (keepCase, longs: String, defaults, oneofs). ----

interface Selector {
  pid?: number;
  tag?: string;
}

interface ProcessConfig {
  cmd: string;
  args?: string[];
  envs?: Record<string, string>;
  cwd?: string;
}

interface StartRequest {
  process: ProcessConfig;
  tag?: string;
  stdin?: boolean;
}

interface ProcessEvent {
  event?: "start" | "data" | "end" | "keepalive";
  start?: { pid: number };
  data?: { output?: "stdout" | "stderr" | "pty"; stdout?: Buffer; stderr?: Buffer; pty?: Buffer };
  end?: { exit_code: number; exited: boolean; status: string; error?: string };
}

interface EventResponse {
  event: ProcessEvent;
}

interface ProcessInfo {
  pid: number;
  tag?: string;
  config: { cmd: string; args: string[]; cwd?: string };
}

interface EntryInfo {
  name: string;
  type: number;
  path: string;
  size: string;
  permissions: string;
}

type Callback<T> = (err: ServiceError | null, res?: T) => void;

/** The Process methods these tests call, as grpc-js exposes them. */
interface ProcessClient extends grpc.Client {
  Start(
    req: StartRequest,
    md: grpc.Metadata,
    opts?: grpc.CallOptions,
  ): ClientReadableStream<EventResponse>;
  Connect(req: { process: Selector }, md: grpc.Metadata): ClientReadableStream<EventResponse>;
  List(
    req: object,
    md: grpc.Metadata,
    cb: Callback<{ processes: ProcessInfo[] }>,
  ): grpc.ClientUnaryCall;
  SendSignal(
    req: { process: Selector; signal: "SIGNAL_SIGKILL" | "SIGNAL_SIGTERM" },
    md: grpc.Metadata,
    cb: Callback<object>,
  ): grpc.ClientUnaryCall;
  SendInput(
    req: { process: Selector; input: { stdin: Buffer } },
    md: grpc.Metadata,
    cb: Callback<object>,
  ): grpc.ClientUnaryCall;
  CloseStdin(
    req: { process: Selector },
    md: grpc.Metadata,
    cb: Callback<object>,
  ): grpc.ClientUnaryCall;
}

/** The Filesystem methods these tests call. */
interface FilesystemClient extends grpc.Client {
  Stat(
    req: { path: string },
    md: grpc.Metadata,
    cb: Callback<{ entry: EntryInfo }>,
  ): grpc.ClientUnaryCall;
  ListDir(
    req: { path: string; depth: number },
    md: grpc.Metadata,
    cb: Callback<{ entries: EntryInfo[] }>,
  ): grpc.ClientUnaryCall;
  MakeDir(
    req: { path: string },
    md: grpc.Metadata,
    cb: Callback<{ entry: EntryInfo }>,
  ): grpc.ClientUnaryCall;
}

type ClientCtor<C> = new (address: string, creds: grpc.ChannelCredentials) => C;

interface LoadedPackages {
  process: { Process: ClientCtor<ProcessClient> };
  filesystem: { Filesystem: ClientCtor<FilesystemClient> };
}

function loadClients(): LoadedPackages {
  const definition = protoLoader.loadSync(
    ["process/process.proto", "filesystem/filesystem.proto"],
    {
      keepCase: true,
      longs: String,
      defaults: true,
      oneofs: true,
      includeDirs: [protoDir],
    },
  );
  // grpc-js builds client classes at runtime from the descriptors, so they
  // carry no static types; the interfaces above describe the methods we call.
  return grpc.loadPackageDefinition(definition) as unknown as LoadedPackages;
}

// ---- Helpers ----

function unary<T>(invoke: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke((err, res) => {
      if (err) reject(err);
      else if (res === undefined) reject(new Error("no response and no error"));
      else resolve(res);
    });
  });
}

/** Expects `p` to fail with a grpc status; returns the error. */
async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  const outcome = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (outcome.ok) throw new Error(`expected a grpc error, got ${JSON.stringify(outcome.v)}`);
  const e = outcome.e;
  if (!(e instanceof Error) || !("code" in e) || typeof e.code !== "number") throw e;
  return e as ServiceError;
}

/** Collects a server stream's events as they arrive, and its final status. */
class EventLog {
  readonly events: ProcessEvent[] = [];
  readonly status: Promise<StatusObject>;
  constructor(readonly call: ClientReadableStream<EventResponse>) {
    call.on("data", (r: EventResponse) => this.events.push(r.event));
    // A non-OK status is also emitted as 'error'; the status event carries it either way.
    call.on("error", () => undefined);
    this.status = new Promise((resolve) => call.on("status", resolve));
  }
  stdout(): string {
    return this.events.map((e) => e.data?.stdout?.toString() ?? "").join("");
  }
  stderr(): string {
    return this.events.map((e) => e.data?.stderr?.toString() ?? "").join("");
  }
  pid(): number | undefined {
    return this.events.find((e) => e.event === "start")?.start?.pid;
  }
  ends(): NonNullable<ProcessEvent["end"]>[] {
    return this.events.flatMap((e) => (e.event === "end" && e.end ? [e.end] : []));
  }
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

const none = () => new grpc.Metadata();
const asUser = (name: string) => {
  const md = new grpc.Metadata();
  md.set("authorization", `Basic ${Buffer.from(`${name}:`).toString("base64")}`);
  return md;
};

// ---- Tests ----

let envd: EnvdUnderTest;
let proc: ProcessClient;
let fs: FilesystemClient;
let scratch: string;

beforeAll(async () => {
  envd = await startEnvd();
  const pkgs = loadClients();
  const address = `127.0.0.1:${envd.port}`;
  proc = new pkgs.process.Process(address, grpc.credentials.createInsecure());
  fs = new pkgs.filesystem.Filesystem(address, grpc.credentials.createInsecure());
  scratch = await mkdtemp(join(tmpdir(), "envd-grpc-js-"));
});

afterAll(async () => {
  proc?.close();
  fs?.close();
  await envd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const listProcesses = () => unary<{ processes: ProcessInfo[] }>((cb) => proc.List({}, none(), cb));

describe("Process over a stock grpc-js client", () => {
  test("Start streams start, stdout, stderr and an end event with the exit status", async () => {
    const log = new EventLog(
      proc.Start(
        { process: { cmd: "/bin/bash", args: ["-l", "-c", "echo hi; echo err >&2; exit 3"] } },
        none(),
      ),
    );
    const status = await log.status;
    expect(status.code).toBe(grpc.status.OK);
    expect(log.events[0]?.event).toBe("start");
    expect(log.pid()).toBeGreaterThan(0);
    expect(log.stdout()).toBe("hi\n");
    expect(log.stderr()).toBe("err\n");
    expect(log.ends()).toHaveLength(1);
    expect(log.events.at(-1)?.event).toBe("end");
    expect(log.ends()[0]).toMatchObject({ exit_code: 3, exited: true, status: "exit status 3" });
  });

  test("List shows a tagged running process; Connect by tag sees its end after SIGKILL", async () => {
    const tag = "grpc-js-sleeper";
    const started = new EventLog(
      proc.Start({ process: { cmd: "sleep", args: ["30"] }, tag }, none()),
    );
    const pid = await eventually("the start event", () => started.pid());

    const listed = (await listProcesses()).processes.find((p) => p.pid === pid);
    expect(listed).toMatchObject({ pid, tag, config: { cmd: "sleep", args: ["30"] } });

    const attached = new EventLog(proc.Connect({ process: { tag } }, none()));
    expect(await eventually("the connect start event", () => attached.pid())).toBe(pid);

    await unary((cb) =>
      proc.SendSignal({ process: { pid }, signal: "SIGNAL_SIGKILL" }, none(), cb),
    );
    expect((await attached.status).code).toBe(grpc.status.OK);
    expect(attached.ends()).toEqual([
      expect.objectContaining({ exited: false, status: "signal: killed" }),
    ]);
    expect((await started.status).code).toBe(grpc.status.OK);
    expect(started.ends()[0]?.status).toBe("signal: killed");
    await eventually("the process to leave the list", async () =>
      (await listProcesses()).processes.some((p) => p.pid === pid) ? undefined : true,
    );
  });

  test("SendInput reaches a cat started with stdin; CloseStdin ends it", async () => {
    const log = new EventLog(proc.Start({ process: { cmd: "cat" }, stdin: true }, none()));
    const pid = await eventually("the start event", () => log.pid());
    await unary((cb) =>
      proc.SendInput(
        { process: { pid }, input: { stdin: Buffer.from("hello cat\n") } },
        none(),
        cb,
      ),
    );
    await eventually("the echo", () => (log.stdout() === "hello cat\n" ? true : undefined));
    await unary((cb) => proc.CloseStdin({ process: { pid } }, none(), cb));
    expect((await log.status).code).toBe(grpc.status.OK);
    expect(log.ends()).toEqual([
      expect.objectContaining({ exit_code: 0, status: "exit status 0" }),
    ]);
    expect(log.stdout()).toBe("hello cat\n");
  });

  test("an unknown pid is NOT_FOUND and the message names the pid", async () => {
    const err = await grpcError(
      unary((cb) =>
        proc.SendSignal({ process: { pid: 999_999 }, signal: "SIGNAL_SIGKILL" }, none(), cb),
      ),
    );
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toContain("999999");

    const attached = new EventLog(proc.Connect({ process: { pid: 999_998 } }, none()));
    const status = await attached.status;
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toContain("999998");
  });

  test.each<[string, StartRequest, grpc.Metadata, grpc.status, RegExp]>([
    ["a missing cmd", { process: { cmd: "" } }, none(), grpc.status.INVALID_ARGUMENT, /cmd/],
    [
      "a cwd that does not exist",
      { process: { cmd: "true", cwd: "/definitely/not/here" } },
      none(),
      grpc.status.INVALID_ARGUMENT,
      /\/definitely\/not\/here/,
    ],
    [
      "a user that does not exist",
      { process: { cmd: "true" } },
      asUser("nosuchuser"),
      grpc.status.UNAUTHENTICATED,
      /nosuchuser/,
    ],
  ])("Start with %s fails with the right status", async (_what, req, md, code, message) => {
    const log = new EventLog(proc.Start(req, md));
    const status = await log.status;
    expect(grpc.status[status.code]).toBe(grpc.status[code]);
    expect(status.details).toMatch(message);
    expect(log.events).toEqual([]);
  });

  test("a ~1 s deadline ends Start with DEADLINE_EXCEEDED and kills the process", async () => {
    const log = new EventLog(
      proc.Start({ process: { cmd: "sleep", args: ["30"] }, tag: "grpc-js-deadline" }, none(), {
        deadline: Date.now() + 1000,
      }),
    );
    const pid = await eventually("the start event", () => log.pid());
    expect((await listProcesses()).processes.map((p) => p.pid)).toContain(pid);
    const status = await log.status;
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await eventually(
      "the process to be killed",
      async () => ((await listProcesses()).processes.some((p) => p.pid === pid) ? undefined : true),
      5000,
    );
  });
});

describe("Filesystem over a stock grpc-js client", () => {
  test("Stat describes a file", async () => {
    const file = join(scratch, "hello.txt");
    await writeFile(file, "hello");
    const { entry } = await unary<{ entry: EntryInfo }>((cb) =>
      fs.Stat({ path: file }, none(), cb),
    );
    expect(entry).toMatchObject({ name: "hello.txt", path: file, type: 1, size: "5" });
  });

  test("ListDir lists a directory's entries", async () => {
    const dir = join(scratch, "listing");
    await unary((cb) => fs.MakeDir({ path: dir }, none(), cb));
    await writeFile(join(dir, "a.txt"), "a");
    await writeFile(join(dir, "b.txt"), "bb");
    const { entries } = await unary<{ entries: EntryInfo[] }>((cb) =>
      fs.ListDir({ path: dir, depth: 1 }, none(), cb),
    );
    expect(entries.map((e) => [e.name, e.size]).sort()).toEqual([
      ["a.txt", "1"],
      ["b.txt", "2"],
    ]);
  });

  test("MakeDir creates a directory, then ALREADY_EXISTS", async () => {
    const dir = join(scratch, "made");
    const { entry } = await unary<{ entry: EntryInfo }>((cb) =>
      fs.MakeDir({ path: dir }, none(), cb),
    );
    expect(entry).toMatchObject({ name: "made", path: dir, type: 2 });
    const err = await grpcError(unary((cb) => fs.MakeDir({ path: dir }, none(), cb)));
    expect(grpc.status[err.code]).toBe("ALREADY_EXISTS");
  });

  test("Stat of a missing path is NOT_FOUND", async () => {
    // Slashes, a colon, a comma, a percent sign and non-ASCII must reach the client as they are.
    const missing = join(scratch, "nö pe: 100%, really");
    const err = await grpcError(unary((cb) => fs.Stat({ path: missing }, none(), cb)));
    expect(grpc.status[err.code]).toBe("NOT_FOUND");
    expect(err.details).toContain(missing);
  });
});
