/**
 * Command-line parsing shared by SoulBox's processes (operator, gateway): strict flags, a typed
 * error that names the flag and the value, and the checks every process repeats.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A flag that is malformed; the message names the flag and the value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A DNS label (a namespace or Lease name). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * `parseArgs` in strict mode without positionals; an unknown flag or a missing value is a
 * {@link ConfigError}, so a typo never starts a half-configured process.
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: O,
) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** `--log-level`, default info. */
export function logLevelFlag(value: string | undefined): LogLevel {
  const level = value ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got '${level}'`);
  return level as LogLevel;
}
