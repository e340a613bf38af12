/**
 * `GET /v2/sandboxes/{id}/logs`, pure: E2B's `SandboxLogsV2Response` from the timestamped pod log
 * of the `sandbox` container, with E2B's `cursor` (epoch ms), `limit` (0-1000, default 1000) and
 * `direction` (`backward`, the default: newest first from the cursor down; `forward`: oldest first
 * from the cursor up). Bad parameters answer 400 with the message E2B's request validator gives.
 */
import { toE2bLogs } from "./logs.js";

/** E2B `SandboxLogEntry`. */
export interface E2bLogEntry {
  timestamp: string;
  level: "info";
  message: string;
  fields: Record<string, string>;
}

/** A parsed v2 logs query. */
export interface LogsV2Query {
  cursorMs?: number;
  limit: number;
  direction: "forward" | "backward";
}

/** The default and largest `limit` (E2B's spec). */
export const LOGS_V2_MAX_LIMIT = 1000;
const DIRECTIONS = ["forward", "backward"] as const;

/**
 * The message of a query parameter E2B's validator refuses (kin-openapi's wording, which E2B's API
 * answers as it is).
 */
export function parameterError(name: string, problem: string): string {
  return `parameter "${name}" in query has an error: ${problem}`;
}

/**
 * Parses a whole-number query parameter within `[min, max]`; returns the number, undefined when
 * absent, or the error message.
 */
export function parseIntParam(
  name: string,
  raw: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined | { error: string } {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? String(raw[0]) : String(raw);
  if (!/^[-+]?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    return { error: parameterError(name, `value ${text}: an invalid integer: invalid syntax`) };
  const n = Number(text);
  if (n < min) return { error: parameterError(name, `number must be at least ${min}`) };
  if (n > max) return { error: parameterError(name, `number must be at most ${max}`) };
  return n;
}

/** Parses `cursor`, `limit` and `direction`; returns the query or the 400 message. */
export function parseLogsV2Query(q: Record<string, unknown>): LogsV2Query | { error: string } {
  const cursor = parseIntParam("cursor", q.cursor, 0);
  if (typeof cursor === "object") return cursor;
  const limit = parseIntParam("limit", q.limit, 0, LOGS_V2_MAX_LIMIT);
  if (typeof limit === "object") return limit;
  const rawDir = Array.isArray(q.direction) ? String(q.direction[0]) : q.direction;
  let direction: LogsV2Query["direction"] = "backward";
  if (rawDir !== undefined) {
    if (!(DIRECTIONS as readonly unknown[]).includes(rawDir))
      return {
        error: parameterError(
          "direction",
          `value is not one of the allowed values ${JSON.stringify(DIRECTIONS)}`,
        ),
      };
    direction = rawDir as LogsV2Query["direction"];
  }
  const out: LogsV2Query = { limit: limit ?? LOGS_V2_MAX_LIMIT, direction };
  if (cursor !== undefined) out.cursorMs = cursor;
  return out;
}

/**
 * The entries of a timestamped pod log for `q`: `forward` keeps lines at or after the cursor,
 * oldest first; `backward` keeps lines at or before it (every line without one), newest first;
 * then at most `limit`.
 */
export function toE2bLogsV2(podLog: string, q: LogsV2Query): E2bLogEntry[] {
  const all = toE2bLogs(podLog, undefined, Number.MAX_SAFE_INTEGER).logEntries;
  const ms = (e: E2bLogEntry) => Date.parse(e.timestamp);
  if (q.direction === "forward")
    return all.filter((e) => q.cursorMs === undefined || ms(e) >= q.cursorMs).slice(0, q.limit);
  return all
    .filter((e) => q.cursorMs === undefined || ms(e) <= q.cursorMs)
    .reverse()
    .slice(0, q.limit);
}
