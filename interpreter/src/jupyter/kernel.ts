import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectZmtp, type ZmtpSocket } from "../zmtp/socket.js";
import { decodeJupyter, encodeJupyter, makeHeader, type JupyterMessage } from "./wire.js";

/** How a kernel is started and interrupted (the fields of a kernel spec that matter here). */
export interface KernelSpec {
  /** argv; "{connection_file}" is replaced by the connection file's path. */
  argv: string[];
  /** "signal": SIGINT to the kernel process; "message": interrupt_request on the control channel. */
  interruptMode: "signal" | "message";
  env?: Record<string, string>;
  /**
   * The kernel may publish a request's output after its `idle` status (Deno 2.9 does, now and
   * then, for execute_result): a request then ends only after a kernel_info round trip behind it
   * has gone idle on iopub too, and output that arrives until then is still the request's.
   */
  iopubBarrier?: boolean;
}

/** The end of one execute_request: the reply's status and execution count. */
export interface ExecuteOutcome {
  status: "ok" | "error" | "aborted";
  executionCount?: number;
}

/** The kernel process ended while we still needed it. */
export class KernelDiedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KernelDiedError";
  }
}

interface Pending {
  onMessage: (msg: JupyterMessage) => void;
  reply?: ExecuteOutcome;
  idle: boolean;
  barrier?: boolean;
  resolve: (o: ExecuteOutcome) => void;
  reject: (e: Error) => void;
}

/**
 * A running Jupyter kernel that we own: its process (its own process group, so a shutdown takes
 * whatever the user's code spawned), and ZeroMQ connections to its shell, control and iopub
 * channels. Requests on shell are answered in the order sent; iopub messages are routed to the
 * request that caused them by their parent header.
 */
export interface Kernel {
  /** Runs code; `onMessage` gets every iopub message the request caused (stream, results, errors). */
  execute(
    code: string,
    onMessage: (msg: JupyterMessage) => void,
    opts?: { silent?: boolean },
  ): Promise<ExecuteOutcome>;
  /** Interrupts the running request (the kernel and its state survive). */
  interrupt(): void;
  /** Stops and starts delivering iopub output (back-pressure from a slow client). */
  pauseOutput(): void;
  resumeOutput(): void;
  /** Stops the kernel and everything it started. */
  shutdown(): Promise<void>;
  /** Resolves with a description of how the process ended. */
  readonly exited: Promise<string>;
  readonly pid: number;
}

/**
 * `n` distinct free ports: all listened on at once, then released (one at a time, the OS could
 * hand the same port out twice). The kernel binds them a moment later; that window is Jupyter's
 * usual one.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Starts a kernel and resolves once it answers kernel_info on shell and its iopub is flowing
 * (Jupyter clients poll kernel_info until iopub delivers something: a subscription takes effect
 * asynchronously and messages published before it are lost). Rejects with KernelDiedError if the
 * process ends first, or after `startTimeoutMs`.
 */
export async function startKernel(
  spec: KernelSpec,
  opts: { cwd: string; env: NodeJS.ProcessEnv; startTimeoutMs?: number },
): Promise<Kernel> {
  const dir = await mkdtemp(join(tmpdir(), "soulbox-kernel-"));
  const key = randomBytes(32).toString("hex");
  const [p0, p1, p2, p3, p4] = await freePorts(5);
  const ports = { shell: p0!, iopub: p1!, stdin: p2!, control: p3!, hb: p4! };
  const connFile = join(dir, "connection.json");
  await writeFile(
    connFile,
    JSON.stringify({
      shell_port: ports.shell,
      iopub_port: ports.iopub,
      stdin_port: ports.stdin,
      control_port: ports.control,
      hb_port: ports.hb,
      ip: "127.0.0.1",
      key,
      transport: "tcp",
      signature_scheme: "hmac-sha256",
      kernel_name: "soulbox",
    }),
    { mode: 0o600 },
  );
  const [cmd, ...args] = spec.argv.map((a) => a.replace("{connection_file}", connFile));
  if (!cmd) throw new Error("a kernel spec with an empty argv");
  const child: ChildProcess = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...opts.env, ...spec.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stderrTail = "";
  child.stderr?.on("data", (d: Buffer) => (stderrTail = (stderrTail + d.toString()).slice(-2000)));
  child.stdout?.resume();
  let alive = true;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => {
      alive = false;
      resolve(`could not start ${cmd}: ${err.message}`);
    });
    child.once("exit", (code, signal) => {
      alive = false;
      const tail = stderrTail.trim().split("\n").slice(-3).join(" | ");
      resolve(
        `exited with ${signal ? `signal ${signal}` : `code ${code}`}${tail ? ` (${tail})` : ""}`,
      );
    });
  });
  // The connection file holds the kernel's key: it goes when the kernel does (and shutdown waits
  // for it, so a server that exits right after leaves nothing behind).
  const removed = exited.then(() => rm(dir, { recursive: true, force: true }));

  const session = randomUUID();
  const pending = new Map<string, Pending>();
  let sockets: ZmtpSocket[] = [];
  let iopubSeen = false;

  /** kernel_info request id → the execute request it closes (iopubBarrier). */
  const barriers = new Map<string, string>();
  const settle = (id: string) => {
    const p = pending.get(id);
    if (!p?.reply || !p.idle) return;
    if (spec.iopubBarrier && !p.barrier && conns) {
      p.barrier = true;
      const header = makeHeader("kernel_info_request", session);
      barriers.set(header.msg_id, id);
      conns.shell.send(
        encodeJupyter(key, { header, parent_header: {}, metadata: {}, content: {} }),
      );
      return;
    }
    pending.delete(id);
    p.resolve(p.reply);
  };
  const onShell = (frames: Buffer[]) => {
    const msg = decodeJupyter(key, frames);
    const id = msg.parent_header.msg_id ?? "";
    const p = pending.get(id);
    if (!p || msg.header.msg_type !== "execute_reply") {
      if (msg.header.msg_type === "kernel_info_reply") kernelInfoReplies++;
      return;
    }
    const c = msg.content;
    p.reply = {
      status: (c.status as ExecuteOutcome["status"]) ?? "ok",
      ...(typeof c.execution_count === "number" ? { executionCount: c.execution_count } : {}),
    };
    settle(id);
  };
  const onIopub = (frames: Buffer[]) => {
    iopubSeen = true;
    const msg = decodeJupyter(key, frames);
    const barrierOf = barriers.get(msg.parent_header.msg_id ?? "");
    if (
      barrierOf !== undefined &&
      msg.header.msg_type === "status" &&
      msg.content.execution_state === "idle"
    ) {
      barriers.delete(msg.parent_header.msg_id ?? "");
      settle(barrierOf);
      return;
    }
    const p = pending.get(msg.parent_header.msg_id ?? "");
    if (!p) return;
    if (msg.header.msg_type === "status") {
      if (msg.content.execution_state === "idle") {
        p.idle = true;
        settle(msg.parent_header.msg_id ?? "");
      }
      return;
    }
    p.onMessage(msg);
  };
  let kernelInfoReplies = 0;

  const connectAll = async () => {
    const [shell, iopub, control] = await connectAllOrNone([
      connectZmtp("127.0.0.1", ports.shell, "DEALER", (f) => safe(onShell, f)),
      connectZmtp("127.0.0.1", ports.iopub, "SUB", (f) => safe(onIopub, f)),
      connectZmtp("127.0.0.1", ports.control, "DEALER", () => {}),
    ] as const);
    sockets = [shell, iopub, control];
    return { shell, iopub, control };
  };

  const safe = (fn: (f: Buffer[]) => void, f: Buffer[]) => {
    try {
      fn(f);
    } catch {
      // A message we cannot read (bad signature, not JSON) is dropped: it cannot be routed.
    }
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  let conns: Awaited<ReturnType<typeof connectAll>> | undefined;
  const died = exited.then((how) => {
    throw new KernelDiedError(`the kernel (${spec.argv[0]}) ${how}`);
  });
  died.catch(() => {});
  try {
    while (!conns) {
      if (!alive) await died;
      if (Date.now() > deadline)
        throw new KernelDiedError(`the kernel (${cmd}) did not open its ports in time`);
      try {
        conns = await connectAll();
      } catch {
        for (const s of sockets) s.close();
        await Promise.race([delay(50), died]);
      }
    }
    while (!(iopubSeen && kernelInfoReplies > 0)) {
      if (Date.now() > deadline)
        throw new KernelDiedError(`the kernel (${cmd}) did not answer kernel_info in time`);
      conns.shell.send(
        encodeJupyter(key, {
          header: makeHeader("kernel_info_request", session),
          parent_header: {},
          metadata: {},
          content: {},
        }),
      );
      await Promise.race([delay(100), died]);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    killGroup(child);
    throw err;
  }
  const { shell, iopub, control } = conns;

  void exited.then((how) => {
    for (const s of sockets) s.close();
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(new KernelDiedError(`the kernel ${how}`));
    }
  });

  return {
    pid: child.pid ?? -1,
    exited,
    execute(code, onMessage, o = {}) {
      if (!alive) return Promise.reject(new KernelDiedError("the kernel is not running"));
      const header = makeHeader("execute_request", session);
      const silent = o.silent ?? false;
      const done = new Promise<ExecuteOutcome>((resolve, reject) => {
        pending.set(header.msg_id, { onMessage, idle: false, resolve, reject });
      });
      shell.send(
        encodeJupyter(key, {
          header,
          parent_header: {},
          metadata: {},
          content: {
            code,
            silent,
            store_history: !silent,
            user_expressions: {},
            allow_stdin: false,
            // Not stop_on_error: after an error (an interrupt is one) ipykernel would abort the
            // requests that reach it in the next moment, and the context's next call is one of
            // them. Calls are queued here, one at a time, so nothing needs aborting.
            stop_on_error: false,
          },
        }),
      );
      return done;
    },
    interrupt() {
      if (!alive) return;
      if (spec.interruptMode === "message")
        control.send(
          encodeJupyter(key, {
            header: makeHeader("interrupt_request", session),
            parent_header: {},
            metadata: {},
            content: {},
          }),
        );
      else child.kill("SIGINT");
    },
    pauseOutput: () => iopub.pause(),
    resumeOutput: () => iopub.resume(),
    async shutdown() {
      if (alive) {
        control.send(
          encodeJupyter(key, {
            header: makeHeader("shutdown_request", session),
            parent_header: {},
            metadata: {},
            content: { restart: false },
          }),
        );
        const t = setTimeout(() => killGroup(child), 2000);
        await exited;
        clearTimeout(t);
      }
      // Whatever the user's code left running in the kernel's process group goes too.
      killGroup(child);
      for (const s of sockets) s.close();
      await removed;
    },
  };
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits for every connection; when one fails, closes the ones that opened and throws its error.
 * An iopub socket left open from a failed try would deliver every message a second time once
 * the next try connects (doubled output).
 */
export async function connectAllOrNone<T extends readonly Promise<{ close(): void }>[]>(
  connects: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(connects);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    for (const r of settled) if (r.status === "fulfilled") r.value.close();
    throw failed.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
