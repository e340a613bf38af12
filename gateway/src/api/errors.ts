/**
 * The one error shape of the REST API. E2B's SDK reads `{code, message}` and picks its error class
 * from the HTTP status (401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, ...), so
 * every refusal is an {@link ApiError} carrying the status, and nothing else reaches the client.
 */

import { statusOf } from "./kube.js";

/** A refusal with the HTTP status it answers with; `message` is for the user and names what to fix. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The JSON body E2B clients expect. */
  toJSON(): { code: number; message: string } {
    return { code: this.status, message: this.message };
  }
}

/** 400: the request is malformed or asks for something not allowed. */
export const badRequest = (message: string, options?: ErrorOptions) =>
  new ApiError(400, message, options);

/** 404 for a sandbox id: unknown and another team's look exactly the same. */
export const sandboxNotFound = (id: string) => new ApiError(404, `sandbox '${id}' not found`);

/** 409: the sandbox is not in a state where this applies. */
export const conflict = (message: string) => new ApiError(409, message);

/**
 * 501 for E2B features that later SoulBox work brings; `what` names the feature, `later` the work
 * that brings it.
 */
export const notSupported = (what: string, later: string) =>
  new ApiError(501, `${what} is not supported by SoulBox yet: ${later}`);

/**
 * Any thrown value as an ApiError: ApiErrors pass through; everything else is a 500 whose message
 * says what failed without internals (the cause stays attached for the log).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // The API server refused the gateway itself: its ServiceAccount may not act in the key's team
  // namespace. An operator's mistake to fix, said plainly rather than as an anonymous 500.
  if (statusOf(err) === 403)
    return new ApiError(
      403,
      "the gateway may not act in this key's team namespace: add the namespace to the chart's gateway.teams",
      { cause: err },
    );
  return new ApiError(500, "internal error in the SoulBox gateway", { cause: err });
}
