/**
 * `POST /files/compose` on the executor's socket: the body is E2B's ComposeRequest
 * (`source_paths`, `destination`, optional `username`); paths resolve like uploads (relative to
 * the user's home). The sidecar authenticated the caller.
 */
import { composeFiles } from "../../os/file-compose.js";
import { resolveUserPath } from "../../os/paths.js";
import { EnvdError } from "../../shared/errors.js";
import {
  readSmallBody,
  sendJson,
  type AnyRequest,
  type AnyResponse,
} from "../../shared/http-util.js";
import type { ExecutorContext } from "../context.js";

/** E2B's ComposeRequest, checked. */
interface ComposeRequest {
  sources: string[];
  destination: string;
  username?: string;
}

/** Parses and checks a compose body, with E2B's messages. Pure. */
export function parseComposeRequest(raw: string): ComposeRequest {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw new EnvdError("invalid_argument", `invalid request body: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new EnvdError("invalid_argument", "invalid request body: not a JSON object");
  const { source_paths: sources, destination, username } = body as Record<string, unknown>;
  if (sources !== undefined && !Array.isArray(sources))
    throw new EnvdError("invalid_argument", "invalid request body: source_paths must be an array");
  if (!Array.isArray(sources) || sources.length === 0)
    throw new EnvdError("invalid_argument", "source_paths must not be empty");
  if (!sources.every((s): s is string => typeof s === "string"))
    throw new EnvdError("invalid_argument", "invalid request body: source_paths must be strings");
  if (destination !== undefined && typeof destination !== "string")
    throw new EnvdError("invalid_argument", "invalid request body: destination must be a string");
  if (!destination) throw new EnvdError("invalid_argument", "destination is required");
  if (username !== undefined && typeof username !== "string")
    throw new EnvdError("invalid_argument", "invalid request body: username must be a string");
  return { sources, destination, ...(username ? { username } : {}) };
}

/** Handles `POST /files/compose`. */
export async function compose(ctx: ExecutorContext, req: AnyRequest, res: AnyResponse) {
  const body = parseComposeRequest((await readSmallBody(req)).toString());
  const user = await ctx.namedUser(body.username);
  const destination = resolveUserPath(body.destination, user.home);
  const sources = body.sources.map((s) => resolveUserPath(s, user.home));
  const result = await composeFiles(sources, destination, { user, chown: ctx.uid === 0 });
  sendJson(res, 200, result);
}
