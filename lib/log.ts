import type { LogLevel } from "./flags.js";

/** A structured logger: one JSON object per line on stderr. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Record<string, unknown>): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Errors become their message and the message of their cause, never a secret-bearing object dump. */
function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error)
      out[k] = v.cause instanceof Error ? `${v.message} (cause: ${v.cause.message})` : v.message;
    else out[k] = v;
  }
  return out;
}

/** Creates a logger writing at `level` and above to `write` (default: stderr). */
export function createLogger(
  level: LogLevel,
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (RANK[l] < RANK[level]) return;
      write(
        JSON.stringify({ ts: new Date().toISOString(), level: l, msg, ...base, ...plain(fields) }),
      );
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    with: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}
