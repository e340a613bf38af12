import { Code, ConnectError } from "@connectrpc/connect";
import { EnvdError, type ErrorKind } from "./errors.js";

const connectCodes: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  no_space: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

const httpStatuses: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  failed_precondition: 412,
  resource_exhausted: 429,
  no_space: 507,
  deadline_exceeded: 504,
  unavailable: 502,
  internal: 500,
};

/** The one place an error becomes a Connect/gRPC error. Unknown errors become Internal. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof EnvdError)
    return new ConnectError(err.message, connectCodes[err.kind], undefined, undefined, err);
  return ConnectError.from(err, Code.Internal);
}

/** The one place an error becomes an HTTP status and an E2B-style `{code, message}` body. */
export function toHttpError(err: unknown): {
  status: number;
  body: { code: number; message: string };
} {
  const kind: ErrorKind = err instanceof EnvdError ? err.kind : "internal";
  const status = httpStatuses[kind];
  const message = err instanceof Error ? err.message : String(err);
  return { status, body: { code: status, message } };
}

/** Wraps an async function so any error it throws leaves as a ConnectError. */
export async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toConnectError(err);
  }
}

/** Wraps a server stream so any error it throws leaves as a ConnectError. */
export async function* mappedStream<T>(gen: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* gen;
  } catch (err) {
    throw toConnectError(err);
  }
}
