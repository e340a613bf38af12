import { rm } from "node:fs/promises";
import type { Http2Server, ServerHttp2Session } from "node:http2";
import type { Logger } from "../../../lib/log.js";
import { listenOn } from "./server.js";

/**
 * Lets a CRIU checkpoint of the sandbox container (Memory snapshots) succeed: CRIU refuses to
 * dump a unix socket whose peer is outside the dumped container ("External socket is used"), and
 * the envd sidecar's link to this executor is exactly that. While quiet, the executor has no link:
 * its sessions are destroyed and its socket is closed and removed, so the sidecar cannot dial in
 * (its requests fail as "executor not reachable", its readiness says not ready). Processes,
 * their output buffers and watches stay as they are.
 *
 * The node agent enters the quiet state (SIGUSR2 to the container's init, the executor), waits
 * for the socket to be gone, checkpoints, and ends it (SIGHUP) on the container that goes on,
 * and on the restored one once it runs (it wakes up still quiet, in a new pod whose sidecar waits
 * for the socket). Without a SIGHUP, the quiet state ends by itself after `maxQuietMs`, so a node
 * agent that died half-way leaves no sandbox unreachable for long. (That timer counts
 * CLOCK_MONOTONIC, which a restore on another machine does not carry over: there the SIGHUP is
 * what ends it.)
 */
export interface CheckpointQuiet {
  /** Drops the link and stops listening; resolves once the socket is gone. Idempotent. */
  enter(): Promise<void>;
  /** Listens again (idempotent); resolves once the socket accepts. */
  leave(): Promise<void>;
  readonly quiet: boolean;
}

/** Wraps the executor's server `server`, listening on `socketPath`; see {@link CheckpointQuiet}. */
export function createCheckpointQuiet(
  server: Http2Server,
  socketPath: string,
  log: Logger,
  maxQuietMs = 30_000,
): CheckpointQuiet {
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (s: ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  let quiet = false;
  let timer: NodeJS.Timeout | undefined;
  // Enter and leave run one at a time, in the order the signals came.
  let chain = Promise.resolve();
  const serial = (step: () => Promise<void>) => (chain = chain.then(step, step));

  const leave = () =>
    serial(async () => {
      if (!quiet) return;
      clearTimeout(timer);
      // A restored executor may wake in a pod whose shared volume lacks the socket's folder:
      // listenOn makes it.
      await listenOn(server, socketPath);
      quiet = false;
      log.info("checkpoint quiet over: listening again", { socket: socketPath });
    });

  return {
    enter: () =>
      serial(async () => {
        if (quiet) return;
        quiet = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sessions) s.destroy();
        await closed;
        await rm(socketPath, { force: true });
        // Not unref'd: with the server closed, this timer is what keeps PID 1 alive when nothing runs.
        timer = setTimeout(() => void leave(), maxQuietMs);
        log.info("checkpoint quiet: link closed, not listening", {
          socket: socketPath,
          maxQuietMs,
        });
      }),
    leave,
    get quiet() {
      return quiet;
    },
  };
}
