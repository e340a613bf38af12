/**
 * When a sandbox's timeout acts. Two sources set the deadline: the Sandbox's
 * `timeoutSeconds`, counted from when the sandbox first became Ready (so a
 * slow image pull does not eat the user's time), and an annotation the
 * gateway writes when an E2B client extends or shortens a timeout, which
 * names the deadline itself and so wins. Waiting for the deadline is a
 * requeue, never a sleep.
 */
import type { Sandbox } from "./gen/crd-types.js";
import { Annotation } from "./labels.js";

/** The annotation with an RFC 3339 deadline; when present and valid it replaces `timeoutSeconds`. */
export const EXPIRES_AT_ANNOTATION = Annotation.expiresAt;

/**
 * The longest requeue for a deadline. Node's timers cannot wait longer than
 * about 24.8 days (a longer delay fires at once), timeouts go up to 30 days,
 * and a daily look also corrects for clock changes.
 */
export const MAX_REQUEUE_MS = 24 * 60 * 60 * 1000;

/**
 * The deadline of `sb` in RFC 3339 (UTC): the annotation when it holds a valid
 * time, else `startedAt + timeoutSeconds`; undefined without a timeout, or
 * before the sandbox started (`startedAt` undefined).
 */
export function expiresAt(sb: Sandbox, startedAt: string | undefined): string | undefined {
  const annotated = parseRfc3339(sb.metadata.annotations?.[EXPIRES_AT_ANNOTATION]);
  if (annotated) return formatRfc3339(annotated);
  const seconds = sb.spec.timeoutSeconds;
  const start = parseRfc3339(startedAt);
  if (seconds === undefined || !start) return undefined;
  return formatRfc3339(new Date(start.getTime() + seconds * 1000));
}

/** True when the deadline is valid and not after `now`. */
export function isExpired(expiresAt: string | undefined, now: Date): boolean {
  const at = parseRfc3339(expiresAt);
  return at !== undefined && at.getTime() <= now.getTime();
}

/**
 * How long to wait before reconciling again for the deadline: one millisecond
 * past it (so that reconcile sees it passed; timers may fire a little early),
 * 0 when it passed, at most {@link MAX_REQUEUE_MS}; undefined without a valid
 * deadline.
 */
export function requeueAfterMs(expiresAt: string | undefined, now: Date): number | undefined {
  const at = parseRfc3339(expiresAt);
  if (!at) return undefined;
  const ms = at.getTime() - now.getTime();
  return ms <= 0 ? 0 : Math.min(ms + 1, MAX_REQUEUE_MS);
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time strictly (`Date.parse` takes February 30th and
 * many non-RFC forms). Undefined when the text is not one.
 */
export function parseRfc3339(text: string | undefined): Date | undefined {
  const m = text === undefined ? null : RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const [oh, om] = [Number(m[9] ?? 0), Number(m[10] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59)
    return undefined;
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return undefined; // e.g. February 30th
  const offsetMs = (m[8] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMs);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** RFC 3339 in UTC, without a fraction when it is zero (`2026-01-01T10:00:00Z`). */
export function formatRfc3339(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}
