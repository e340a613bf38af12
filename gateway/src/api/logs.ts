/**
 * Sandbox logs as E2B's `SandboxLogs`, pure: the pod log of the `sandbox` container, read with
 * timestamps (`<RFC 3339 nano> <line>` per line), filtered from `start` and cut at `limit`.
 */

/** E2B `SandboxLogs`. */
export interface E2bLogs {
  logs: { timestamp: string; line: string }[];
  logEntries: {
    timestamp: string;
    level: "info";
    message: string;
    fields: Record<string, string>;
  }[];
}

/** The most lines one call returns when the client asks for no limit. */
export const DEFAULT_LOG_LIMIT = 1000;

/**
 * Turns a timestamped pod log into E2B logs: lines at or after `startMs` (epoch ms), at most
 * `limit` of them, oldest first. Lines without a timestamp (cannot happen with `timestamps=true`,
 * but a log may end mid-line) are skipped.
 */
export function toE2bLogs(podLog: string, startMs: number | undefined, limit: number): E2bLogs {
  const out: E2bLogs = { logs: [], logEntries: [] };
  for (const raw of podLog.split("\n")) {
    if (out.logs.length >= limit) break;
    const space = raw.indexOf(" ");
    if (space <= 0) continue;
    const ms = Date.parse(raw.slice(0, space));
    if (Number.isNaN(ms)) continue;
    if (startMs !== undefined && ms < startMs) continue;
    const timestamp = new Date(ms).toISOString();
    const line = raw.slice(space + 1);
    out.logs.push({ timestamp, line });
    out.logEntries.push({ timestamp, level: "info", message: line, fields: {} });
  }
  return out;
}

/** Parses the `start` (epoch ms) and `limit` query parameters; throws a message on bad input. */
export function parseLogQuery(
  start: unknown,
  limit: unknown,
): { startMs?: number; limit: number } | string {
  const out: { startMs?: number; limit: number } = { limit: DEFAULT_LOG_LIMIT };
  if (start !== undefined) {
    if (typeof start !== "string" || !/^\d+$/.test(start))
      return "start must be a time in milliseconds since the epoch";
    out.startMs = Number(start);
  }
  if (limit !== undefined) {
    if (typeof limit !== "string" || !/^\d+$/.test(limit) || Number(limit) < 1)
      return "limit must be a whole number of at least 1";
    out.limit = Math.min(Number(limit), 10_000);
  }
  return out;
}
