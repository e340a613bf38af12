/**
 * Storage errors in one place: what each {@link StorageErrorCode} means to an HTTP caller, and how
 * a provider's error (AWS SDK, Google Cloud, Azure, node:fs, the network) becomes a
 * {@link StorageError}. Drivers call {@link toStorageError} and nothing else, so one provider's
 * quirk is fixed here for every call site.
 */
import { StorageError, type StorageErrorCode } from "./object-store.js";

/**
 * The HTTP status a gateway answers for a storage failure. `Unauthorized` is 502, not 401: it is
 * our own credentials the provider refused, not the caller's.
 */
export function storageErrorStatus(code: StorageErrorCode): number {
  switch (code) {
    case "NotFound":
      return 404;
    case "AlreadyExists":
      return 409;
    case "InvalidArgument":
      return 400;
    case "IntegrityMismatch":
      return 502;
    case "Unauthorized":
      return 502;
    case "Unavailable":
      return 503;
    case "InvalidConfig":
      return 500;
    case "KeyUnavailable":
      return 500;
    case "Aborted":
      return 499;
  }
}

/** The provider error codes and names we recognise, by the code they mean. */
const NAMED: Record<string, StorageErrorCode> = {
  // AWS S3 and S3-compatible servers (R2, MinIO, ...).
  NoSuchKey: "NotFound",
  NotFound: "NotFound",
  NoSuchBucket: "NotFound",
  PreconditionFailed: "AlreadyExists",
  ConditionalRequestConflict: "AlreadyExists",
  InvalidAccessKeyId: "Unauthorized",
  SignatureDoesNotMatch: "Unauthorized",
  AccessDenied: "Unauthorized",
  InvalidToken: "Unauthorized",
  ExpiredToken: "Unauthorized",
  InvalidRange: "InvalidArgument",
  SlowDown: "Unavailable",
  InternalError: "Unavailable",
  ServiceUnavailable: "Unavailable",
  RequestTimeout: "Unavailable",
  TimeoutError: "Unavailable",
  // Azure Blob.
  BlobNotFound: "NotFound",
  ContainerNotFound: "NotFound",
  BlobAlreadyExists: "AlreadyExists",
  ConditionNotMet: "AlreadyExists",
  AuthenticationFailed: "Unauthorized",
  AuthorizationFailure: "Unauthorized",
  AuthorizationPermissionMismatch: "Unauthorized",
  ServerBusy: "Unavailable",
  OperationTimedOut: "Unavailable",
  // Google OAuth: a service account key the token endpoint refuses.
  invalid_grant: "Unauthorized",
  invalid_client: "Unauthorized",
  unauthorized_client: "Unauthorized",
  // Node.js system errors (file backend, sockets).
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  EACCES: "Unauthorized",
  EPERM: "Unauthorized",
  ECONNREFUSED: "Unavailable",
  ECONNRESET: "Unavailable",
  ECONNABORTED: "Unavailable",
  EPIPE: "Unavailable",
  ETIMEDOUT: "Unavailable",
  EHOSTUNREACH: "Unavailable",
  ENETUNREACH: "Unavailable",
  EAI_AGAIN: "Unavailable",
  ENOTFOUND: "Unavailable",
  ENOSPC: "Unavailable",
  EIO: "Unavailable",
  EROFS: "Unavailable",
  ENOTDIR: "InvalidConfig",
  UND_ERR_SOCKET: "Unavailable",
  UND_ERR_CONNECT_TIMEOUT: "Unavailable",
  ERR_STREAM_PREMATURE_CLOSE: "Unavailable",
  AbortError: "Aborted",
  ABORT_ERR: "Aborted",
};

/** The code an HTTP status means when the provider gave no name we know. */
export function codeForHttpStatus(status: number): StorageErrorCode | undefined {
  if (status === 404) return "NotFound";
  if (status === 409 || status === 412) return "AlreadyExists";
  if (status === 401 || status === 403) return "Unauthorized";
  if (status === 416) return "InvalidArgument";
  if (status === 408 || status === 429 || status >= 500) return "Unavailable";
  return undefined;
}

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  errno?: unknown;
  status?: unknown;
  statusCode?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  response?: { status?: unknown; data?: { error?: unknown } };
  details?: { errorCode?: unknown };
  cause?: unknown;
  errors?: unknown;
}

/**
 * What a provider error means, or undefined when nothing about it is recognised. Names and codes
 * win over HTTP statuses (S3 answers 404 for a missing bucket and a missing key alike, but the
 * name tells them apart for the message); a cause chain and an AggregateError are searched too,
 * since fetch and the SDKs wrap the socket error that says what happened.
 */
export function classifyProviderError(err: unknown, depth = 0): StorageErrorCode | undefined {
  if (err instanceof StorageError) return err.code;
  if (typeof err !== "object" || err === null || depth > 4) return undefined;
  const e = err as ErrorShape;
  // Azure puts its error code in details.errorCode, Google OAuth in response.data.error.
  const names = [e.code, e.Code, e.details?.errorCode, e.response?.data?.error, e.name];
  for (const n of names) {
    if (typeof n === "string" && Object.hasOwn(NAMED, n)) return NAMED[n];
  }
  const statuses = [e.$metadata?.httpStatusCode, e.statusCode, e.status, e.response?.status];
  for (const s of statuses) {
    const code = typeof s === "number" ? codeForHttpStatus(s) : undefined;
    if (code) return code;
    if (typeof s === "string" && /^\d{3}$/.test(s)) {
      const c = codeForHttpStatus(Number(s));
      if (c) return c;
    }
  }
  if (typeof e.code === "number") {
    const c = codeForHttpStatus(e.code);
    if (c) return c;
  }
  const inner = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const c of inner) {
    const code = classifyProviderError(c, depth + 1);
    if (code) return code;
  }
  // Socket errors without a code (an S3 client seeing a half-written response) say so in words.
  const message = err instanceof Error ? err.message : "";
  if (/socket hang up|other side closed|premature close|fetch failed|ECONNRESET/i.test(message))
    return "Unavailable";
  return undefined;
}

/**
 * Turns any provider error into a {@link StorageError} keeping it as `cause`; a StorageError is
 * returned as it is. `what` names the call and the object ("put s3://bucket/key") for the message;
 * unrecognised errors are `Unavailable` (worth a retry) rather than lost.
 */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = classifyProviderError(err) ?? "Unavailable";
  const detail = err instanceof Error ? err.message : String(err);
  return new StorageError(code, `${what}: ${describe(code)} (${detail || "no detail"})`, {
    cause: err,
  });
}

function describe(code: StorageErrorCode): string {
  switch (code) {
    case "NotFound":
      return "not found";
    case "AlreadyExists":
      return "an object already exists";
    case "InvalidArgument":
      return "invalid argument";
    case "IntegrityMismatch":
      return "integrity check failed";
    case "Unauthorized":
      return "the storage provider refused our credentials";
    case "Unavailable":
      return "the storage provider is unavailable";
    case "InvalidConfig":
      return "storage misconfigured";
    case "KeyUnavailable":
      return "encryption key unavailable";
    case "Aborted":
      return "aborted";
  }
}
