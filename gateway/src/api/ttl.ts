/**
 * Timeout arithmetic of the E2B API, pure. E2B timeouts are whole seconds; a sandbox's deadline
 * lives in the `soulbox.dev/expires-at` annotation, which the operator obeys.
 */
import { badRequest } from "./errors.js";

/**
 * Checks a timeout in seconds from a request body: a whole number from 0 to `maxSeconds`.
 * `field` names it in the message. Throws a 400 ApiError otherwise.
 */
export function checkTimeoutSeconds(value: unknown, field: string, maxSeconds: number): number {
  if (typeof value !== "number" || !Number.isInteger(value))
    throw badRequest(`${field} must be a whole number of seconds, not ${JSON.stringify(value)}`);
  if (value < 0) throw badRequest(`${field} must not be negative (got ${value})`);
  if (value > maxSeconds)
    throw badRequest(
      `${field} ${value} s is over the maximum of ${maxSeconds} s this SoulBox allows`,
    );
  return value;
}

/** The deadline `seconds` from `now` (`/timeout` and creation: the TTL is set, up or down). */
export function ttlFromNow(now: Date, seconds: number): Date {
  return new Date(now.getTime() + seconds * 1000);
}

/**
 * The deadline after `/connect` or `/refreshes`: `seconds` from now, but never earlier than the
 * current deadline (those calls only ever extend a sandbox's life).
 */
export function extendedTtl(current: Date | undefined, now: Date, seconds: number): Date {
  const wanted = ttlFromNow(now, seconds);
  return current && current.getTime() > wanted.getTime() ? current : wanted;
}

/** RFC 3339 in UTC, as the annotation holds it (milliseconds kept). */
export function formatDeadline(at: Date): string {
  return at.toISOString();
}
