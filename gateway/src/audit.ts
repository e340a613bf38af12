/**
 * The audit log of the REST API: one JSON line per call, to a file (appended) or stdout. It
 * records who (key name and team, never the key), what (method, route pattern, sandbox id), the
 * outcome (status, duration) and from where (remote address) — never bodies, so never env values.
 */
import { createJsonLinesWriter, type JsonLinesWriter } from "../../lib/json-lines.js";
import type { NextFunction, Request, Response } from "express";

/** One audit record. */
export interface AuditRecord {
  ts: string;
  keyName: string | null;
  team: string | null;
  method: string;
  route: string;
  sandboxID: string | null;
  status: number;
  durationMs: number;
  remote: string | null;
}

/** Where audit lines go. */
export type AuditLog = JsonLinesWriter<AuditRecord>;

/** An audit log appending to `path`, or writing to stdout when no path is given. */
export function createAuditLog(path?: string): AuditLog {
  return createJsonLinesWriter<AuditRecord>(path === undefined ? {} : { path });
}

/** What the auth middleware and the routes leave in `res.locals` for the audit line. */
interface AuditLocals {
  auth?: { keyName: string; team: string };
  sandboxID?: string;
}

/**
 * Express middleware that writes one record per request once the response is finished (or the
 * client went away: the status is then what had been decided, 499 when nothing was).
 */
export function auditMiddleware(log: AuditLog) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    let written = false;
    const done = () => {
      if (written) return;
      written = true;
      const locals = res.locals as AuditLocals;
      const route = req.route
        ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}`
        : "(no route)";
      log.write({
        ts: new Date().toISOString(),
        keyName: locals.auth?.keyName ?? null,
        team: locals.auth?.team ?? null,
        method: req.method,
        route,
        sandboxID: locals.sandboxID ?? null,
        status: res.writableFinished || res.headersSent ? res.statusCode : 499,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        remote: req.socket.remoteAddress ?? null,
      });
    };
    res.on("finish", done);
    res.on("close", done);
    next();
  };
}
