import { createWriteStream, type WriteStream } from "node:fs";

/** One audit record: who did what through envd, and how it ended. */
export interface AuditRecord {
  kind: "rpc" | "http";
  op: string;
  user?: string;
  path?: string;
  status: string;
  durationMs: number;
  remote?: string;
}

/** Writes audit records as JSON lines; the sandbox's code cannot reach this file. */
export interface AuditLog {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

/** Audit lines go to `path`, or to stdout when no path is given. */
export function createAuditLog(path?: string): AuditLog {
  const out: WriteStream | NodeJS.WriteStream = path
    ? createWriteStream(path, { flags: "a" })
    : process.stdout;
  return {
    write(record) {
      out.write(JSON.stringify({ ts: new Date().toISOString(), audit: true, ...record }) + "\n");
    },
    close() {
      if (out === process.stdout) return Promise.resolve();
      return new Promise((resolve) => (out as WriteStream).end(resolve));
    },
  };
}
