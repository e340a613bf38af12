/**
 * The routes of E2B's control-plane API, old and new paths side by side. Every handler acts in
 * the caller's team namespace (`res.locals.auth.team`, set by the auth middleware); ids of other
 * teams are unknown ids.
 */
import express from "express";
import type { Request, Response } from "express";
import { findSandbox, type ApiContext } from "./context.js";
import { createSandbox } from "./create.js";
import { networkRoutes, withTrafficToken } from "./network-routes.js";
import {
  matchesMetadata,
  startedAtMs,
  templateIdOf,
  toE2bSandbox,
  toListedSandbox,
  toSandboxDetail,
  type E2bMetric,
} from "./e2b-json.js";
import { badRequest } from "./errors.js";
import {
  deleteSandbox,
  extendDeadline,
  pauseSandbox,
  resumeSandbox,
  setDeadline,
} from "./lifecycle.js";
import { encodeCursor, paginate, parseListQuery, type QueryValue } from "./list-query.js";
import { parseLogQuery, toE2bLogs } from "./logs.js";
import { readMetrics } from "./metrics.js";
import { parseMetricsRange } from "./metrics-history.js";
import { parseLogsV2Query, toE2bLogsV2 } from "./logs-v2.js";
import { getTemplate, listTemplates, resolveAlias } from "./templates.js";
import { teamsOf } from "./teams.js";
import { presentedKey } from "../auth/api-keys.js";
import { checkTimeoutSeconds, ttlFromNow } from "./ttl.js";
import { e2bState } from "../sandboxes/sandbox-state.js";
import { isRecord } from "./validate.js";
import { pauseModeOf } from "./lifecycle.js";
import { snapshotRoutes } from "./snapshots-routes.js";
import { isContentSandbox } from "../volumes/content-sandbox.js";
import { volumeRoutes } from "../volumes/volume-routes.js";

/** Who is calling, as the auth middleware found it. */
export interface CallerLocals {
  auth: { keyName: string; team: string };
  sandboxID?: string;
}

const teamOf = (res: Response) => (res.locals as CallerLocals).auth.team;
const bodyOf = (req: Request): Record<string, unknown> => {
  const b: unknown = req.body;
  if (b === undefined || b === null) return {};
  if (!isRecord(b)) throw badRequest("the request body must be a JSON object");
  return b;
};
const query = (req: Request) => req.query as Record<string, QueryValue>;
const idParam = (req: Request): string => {
  const id = req.params.id;
  return typeof id === "string" ? id : "";
};

/** The most ids `GET /sandboxes/metrics` takes at once. */
const MAX_METRIC_IDS = 100;

/** Builds the router. */
export function apiRoutes(ctx: ApiContext): express.Router {
  const r = express.Router();
  const { config } = ctx;
  /** A body's timeout field in seconds, checked against the maximum; the default when absent. */
  const secondsOrDefault = (value: unknown, field: string): number =>
    value === undefined
      ? config.defaultTimeoutSeconds
      : checkTimeoutSeconds(value, field, config.maxTimeoutSeconds);
  r.param("id", (_req, res, next, id: string) => {
    (res.locals as CallerLocals).sandboxID = id;
    next();
  });
  // Snapshots, fork, and deleteSnapshot's DELETE /templates/{id} (other ids pass on).
  r.use(snapshotRoutes(ctx));

  const create = async (req: Request, res: Response) => {
    const out = await createSandbox(ctx, teamOf(res), req.body);
    (res.locals as CallerLocals).sandboxID = out.sandboxID;
    res.status(201).json(out);
  };
  r.post("/sandboxes", create);
  r.post("/v2/sandboxes", create);

  const list = (v2: boolean) => (req: Request, res: Response) => {
    const q = parseListQuery(query(req), v2);
    const items = ctx.index
      .list(teamOf(res))
      .filter((s) => !s.metadata.deletionTimestamp && !isContentSandbox(s))
      .filter((s) => matchesMetadata(s, q.metadata))
      .filter((s) =>
        v2 ? (q.states ? q.states.has(e2bState(s)) : true) : e2bState(s) === "running",
      )
      .filter((s) => !q.startedAfter || startedAtMs(s) >= q.startedAfter.getTime())
      .filter((s) => !q.template || templateIdOf(s) === q.template)
      .map((s) => ({ s, id: s.metadata.name ?? "", startedAtMs: startedAtMs(s) }));
    const { page, next } = paginate(items, q.order, q.limit, q.after);
    if (next) res.setHeader("X-Next-Token", encodeCursor(next));
    res.json(page.map((x) => toListedSandbox(x.s)));
  };
  r.get("/sandboxes", list(false));
  r.get("/v2/sandboxes", list(true));

  r.get("/sandboxes/metrics", async (req: Request, res: Response) => {
    const raw = query(req).sandbox_ids;
    const ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "");
    if (ids.length === 0)
      throw badRequest("sandbox_ids is required: a comma-separated list of sandbox ids");
    if (ids.length > MAX_METRIC_IDS)
      throw badRequest(`sandbox_ids takes at most ${MAX_METRIC_IDS} ids`);
    const out: Record<string, E2bMetric> = {};
    await Promise.all(
      [...new Set(ids)].map(async (id) => {
        const s = ctx.index.get(id);
        if (!s || s.metadata.namespace !== teamOf(res) || s.metadata.deletionTimestamp) return;
        const m = await readMetrics(ctx, s).catch(() => undefined);
        if (m) out[id] = m;
      }),
    );
    res.json({ sandboxes: out });
  });

  r.get("/sandboxes/:id", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    res.json(toSandboxDetail(s, await ctx.token(s), config.domain));
  });

  r.delete("/sandboxes/:id", async (req: Request, res: Response) => {
    await deleteSandbox(ctx, findSandbox(ctx, teamOf(res), idParam(req)));
    res.status(204).end();
  });

  r.post("/sandboxes/:id/timeout", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const seconds = checkTimeoutSeconds(bodyOf(req).timeout, "timeout", config.maxTimeoutSeconds);
    await setDeadline(ctx, s, ttlFromNow(new Date(), seconds));
    res.status(204).end();
  });

  r.post("/sandboxes/:id/refreshes", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const body = bodyOf(req);
    const seconds = secondsOrDefault(body.duration, "duration");
    await extendDeadline(ctx, s, seconds);
    res.status(204).end();
  });

  r.post("/sandboxes/:id/pause", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    await pauseSandbox(ctx, s, pauseModeOf(bodyOf(req).memory, config.memoryPause));
    res.status(204).end();
  });

  r.post("/sandboxes/:id/resume", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const body = bodyOf(req);
    const seconds = secondsOrDefault(body.timeout, "timeout");
    const resumed = await resumeSandbox(ctx, s, seconds, "set");
    const answer = toE2bSandbox(resumed, await ctx.token(resumed), config.domain);
    res.status(201).json(await withTrafficToken(ctx, resumed, answer));
  });

  const connect = async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const body = bodyOf(req);
    const seconds =
      body.timeout === undefined || body.timeout === null
        ? undefined
        : checkTimeoutSeconds(body.timeout, "timeout", config.maxTimeoutSeconds);
    // A cold boot from disk is what resuming a filesystem pause is anyway; a sandbox frozen in
    // place (memory kept) cannot drop its memory.
    if (body.memory === false && e2bState(s) === "paused" && s.spec.pauseMode !== "Filesystem")
      throw badRequest(
        "resuming without memory (a cold boot from disk) is not supported by SoulBox for a sandbox paused with its memory: connect without memory false",
      );
    if (e2bState(s) === "paused") {
      const resumed = await resumeSandbox(
        ctx,
        s,
        seconds ?? config.defaultTimeoutSeconds,
        "extend",
      );
      const answer = toE2bSandbox(resumed, await ctx.token(resumed), config.domain);
      res.status(201).json(await withTrafficToken(ctx, resumed, answer));
      return;
    }
    const extended = seconds === undefined ? s : await extendDeadline(ctx, s, seconds);
    const answer = toE2bSandbox(extended, await ctx.token(s), config.domain);
    res.status(200).json(await withTrafficToken(ctx, extended, answer));
  };
  r.post("/sandboxes/:id/connect", connect);
  r.post("/v2/sandboxes/:id/connect", connect);

  r.get("/sandboxes/:id/metrics", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const { start, end } = parseMetricsRange(req.query);
    const history = ctx.metricsHistory?.range(s.metadata.uid ?? "", start, end);
    if (history?.length) return void res.json(history);
    // No sample yet (a new sandbox, or no history kept): the current one, when it is in range.
    const m = await readMetrics(ctx, s);
    const inRange =
      m &&
      (start === undefined || m.timestampUnix >= start) &&
      (end === undefined || m.timestampUnix <= end);
    res.json(inRange ? [m] : []);
  });

  r.get("/v2/sandboxes/:id/logs", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const q = parseLogsV2Query(req.query);
    if ("error" in q) throw badRequest(q.error);
    const pod = s.status?.podName;
    const text = pod
      ? await ctx.kube.podLog(s.metadata.namespace ?? "", pod, "sandbox").catch(() => "")
      : "";
    res.json({ logs: toE2bLogsV2(text, q) });
  });

  r.get("/templates", async (req: Request, res: Response) => {
    const teamID = query(req).teamID;
    if (teamID !== undefined && teamID !== teamOf(res))
      throw badRequest("Team ID param mismatch with the API key");
    res.json(await listTemplates(ctx, teamOf(res)));
  });
  r.get("/templates/aliases/:alias", async (req: Request, res: Response) => {
    res.json(await resolveAlias(ctx, teamOf(res), String(req.params.alias ?? "")));
  });
  r.get("/templates/:templateID", async (req: Request, res: Response) => {
    res.json(await getTemplate(ctx, teamOf(res), String(req.params.templateID ?? "")));
  });
  r.get("/teams", (req: Request, res: Response) => {
    res.json(teamsOf(teamOf(res), presentedKey(req.headers) ?? ""));
  });

  r.get("/sandboxes/:id/logs", async (req: Request, res: Response) => {
    const s = findSandbox(ctx, teamOf(res), idParam(req));
    const q = parseLogQuery(req.query.start, req.query.limit);
    if (typeof q === "string") throw badRequest(q);
    const pod = s.status?.podName;
    if (!pod) {
      res.json({ logs: [], logEntries: [] });
      return;
    }
    const text = await ctx.kube
      .podLog(s.metadata.namespace ?? "", pod, "sandbox")
      .catch((err: unknown) => {
        // A pod that is gone or whose container has not started has no log yet.
        if ((err as { code?: unknown }).code === 404 || (err as { code?: unknown }).code === 400)
          return "";
        throw err;
      });
    res.json(toE2bLogs(text, q.startMs, q.limit));
  });

  r.use(volumeRoutes(ctx));
  r.use(networkRoutes(ctx));
  return r;
}
