/**
 * What a client-node error says, in the two forms the operator needs: the
 * HTTP status to decide on (404 is "gone", 409 is "someone was first") and a
 * short text for a condition message. client-node's own message carries the
 * response headers (dates, request ids), which would change a condition on
 * every retry; the API server's `Status.message` does not.
 */

/** The HTTP status of a client-node error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === "number") return e.code;
    if (typeof e.statusCode === "number") return e.statusCode;
  }
  return undefined;
}

/**
 * A one-line, stable description of `err`: `<status>: <the API server's
 * message>` for an API error, else the error's own message. Pure.
 */
export function describeError(err: unknown): string {
  const status = statusOf(err);
  const apiMessage = messageOfBody((err as { body?: unknown } | undefined)?.body);
  if (status !== undefined && apiMessage) return `${status}: ${apiMessage}`;
  if (err instanceof Error) return err.message.split("\n", 1)[0] ?? err.name;
  return String(err);
}

function messageOfBody(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return body.trim() || undefined;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === "string" && message ? message : undefined;
}
