import { createJsonLinesWriter, type JsonLinesWriter } from "../../../lib/json-lines.js";

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
export type AuditLog = JsonLinesWriter<AuditRecord>;

/** Audit lines go to `path`, or to stdout when no path is given; each gets `ts` and `audit: true`. */
export function createAuditLog(path?: string): AuditLog {
  return createJsonLinesWriter<AuditRecord>({
    ...(path === undefined ? {} : { path }),
    shape: (record) => ({ ts: new Date().toISOString(), audit: true, ...record }),
  });
}
