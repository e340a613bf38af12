/**
 * `PUT /sandboxes/{id}/network` (E2B's `SandboxNetworkUpdateConfig`: 204, 404 for an unknown
 * sandbox, 409 for one that is not running), and the traffic access token that create, connect and
 * resume answers carry for a sandbox whose ports are not public. The new egress rules go into the
 * Sandbox's `spec.network`; the operator rewrites its NetworkPolicy from there and the cluster's
 * NetworkPolicy engine applies it (within about a second on the local cluster).
 */
import express from "express";
import type { Request, Response } from "express";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { e2bState } from "../sandboxes/sandbox-state.js";
import { findSandbox, type ApiContext } from "./context.js";
import type { E2bSandbox } from "./e2b-json.js";
import { badRequest, conflict, sandboxNotFound } from "./errors.js";
import { messageOf, statusOf } from "./kube.js";
import {
  TRAFFIC_TOKEN_DIGEST_ANNOTATION,
  needsTrafficToken,
  networkForUpdate,
  tokenDigest,
  trafficAccessToken,
} from "./network.js";

const teamOf = (res: Response) => (res.locals as { auth: { team: string } }).auth.team;

/** The router. */
export function networkRoutes(ctx: ApiContext): express.Router {
  const r = express.Router();
  r.put("/sandboxes/:id/network", async (req: Request, res: Response) => {
    const id = String(req.params.id ?? "");
    const s = findSandbox(ctx, teamOf(res), id);
    if (e2bState(s) !== "running")
      throw conflict(`sandbox '${id}' is paused: resume it before changing its network`);
    const next = networkForUpdate(req.body, s.spec.network);
    // A merge patch merges objects: fields the update clears are sent as null.
    const patch = {
      spec: {
        network: {
          allowEgress: next.allowEgress ?? null,
          denyEgress: next.denyEgress ?? null,
          allowPublicTraffic: next.allowPublicTraffic ?? null,
          maskRequestHost: next.maskRequestHost ?? null,
        },
      },
    };
    await ctx.kube.patchSandbox(s.metadata.namespace ?? "", id, patch).catch((err: unknown) => {
      const status = statusOf(err);
      if (status === 404) throw sandboxNotFound(id);
      if (status === 422 || status === 400)
        throw badRequest(messageOf(err) ?? "the network update was refused by Kubernetes", {
          cause: err,
        });
      throw err;
    });
    ctx.log.info("sandbox network updated", { sandboxID: id, network: next });
    res.status(204).end();
  });
  return r;
}

/**
 * `body` with the sandbox's traffic access token, for a sandbox whose ports need one (else as it
 * is, `null`). The first time, the token's digest is written onto the Sandbox, where the front
 * door checks requests against it; until then the sandbox's ports refuse everyone.
 */
export async function withTrafficToken(
  ctx: ApiContext,
  s: Sandbox,
  body: E2bSandbox,
): Promise<E2bSandbox> {
  if (!needsTrafficToken(s)) return body;
  const id = s.metadata.name ?? "";
  const token = trafficAccessToken(await ctx.token(s), id);
  const digest = tokenDigest(token);
  const has = (x: Sandbox | undefined) =>
    x?.metadata.annotations?.[TRAFFIC_TOKEN_DIGEST_ANNOTATION] === digest;
  if (!has(s)) {
    await ctx.kube.patchSandbox(s.metadata.namespace ?? "", id, {
      metadata: { annotations: { [TRAFFIC_TOKEN_DIGEST_ANNOTATION]: digest } },
    });
    // The front door reads the cache: the token must work the moment the caller has it.
    await ctx.index.waitFor(id, (x) => has(x) || !x, 10_000);
  }
  return { ...body, trafficAccessToken: token };
}
