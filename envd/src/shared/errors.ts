/**
 * Typed errors shared by the executor and the sidecar. The OS layer throws
 * `EnvdError`s; the RPC and HTTP layers translate them in exactly one place
 * (`shared/error-mapping.ts`).
 */

/** What went wrong, independent of the transport that reports it. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "failed_precondition"
  | "resource_exhausted"
  | "no_space"
  | "deadline_exceeded"
  | "unavailable"
  | "internal";

/** An error with a kind and a message meant for the caller; the cause is kept. */
export class EnvdError extends Error {
  override readonly name = "EnvdError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const errnoKinds: Record<string, ErrorKind> = {
  ENOENT: "not_found",
  ENOTDIR: "invalid_argument",
  EISDIR: "invalid_argument",
  EEXIST: "already_exists",
  ENOTEMPTY: "failed_precondition",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
  EROFS: "permission_denied",
  ENOSPC: "no_space",
  EDQUOT: "no_space",
  EFBIG: "resource_exhausted",
  EMFILE: "resource_exhausted",
  ENFILE: "resource_exhausted",
  ENAMETOOLONG: "invalid_argument",
  ELOOP: "invalid_argument",
  EINVAL: "invalid_argument",
};

/** The errno code of a Node system error, if it is one. */
export function errnoOf(err: unknown): string | undefined {
  if (err instanceof Error && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

/**
 * Wraps a Node system error (ENOENT, EACCES, ...) into an `EnvdError` whose
 * message names the operation and the path, so callers see what failed.
 */
export function fromSystemError(err: unknown, what: string): EnvdError {
  if (err instanceof EnvdError) return err;
  const code = errnoOf(err);
  const kind: ErrorKind = (code ? errnoKinds[code] : undefined) ?? "internal";
  const detail = code ? describeErrno(code) : err instanceof Error ? err.message : String(err);
  return new EnvdError(kind, `${what}: ${detail}`, { cause: err });
}

function describeErrno(code: string): string {
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "ENOTDIR":
      return "a path component is not a directory";
    case "EISDIR":
      return "is a directory";
    case "EEXIST":
      return "already exists";
    case "ENOTEMPTY":
      return "directory not empty";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOSPC":
    case "EDQUOT":
      return "no space left on device";
    default:
      return code;
  }
}
