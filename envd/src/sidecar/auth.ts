import { EnvdError } from "../shared/errors.js";
import { computeSignature, signaturesEqual, type FileOperation } from "../shared/signature.js";
import type { NonceCache } from "./nonce-cache.js";

/** Holds the sandbox's access token; `/init` may set or rotate it. */
export interface TokenStore {
  token: string | undefined;
}

/** Throws `unauthenticated` unless the header carries the token (or no token is set). */
export function requireToken(store: TokenStore, header: string | null | undefined): void {
  if (store.token === undefined) return;
  if (!header) throw new EnvdError("unauthenticated", "missing X-Access-Token header");
  if (!signaturesEqual(header, store.token))
    throw new EnvdError("unauthenticated", "invalid access token");
}

/** The query of a `/files` request, as far as authorization cares. */
export interface FileAccess {
  path: string;
  user: string;
  operation: FileOperation;
  signature: string | null;
  expiration: string | null;
  nonce: string | null;
}

/**
 * Authorizes a `/files` request: the access token, or a valid signature for
 * this path, operation and user that has not expired (and, with a nonce, has
 * not been used before). Without a token configured, everything passes.
 */
export function authorizeFileAccess(
  store: TokenStore,
  tokenHeader: string | null | undefined,
  access: FileAccess,
  nonces: NonceCache,
  nowMs = Date.now(),
): void {
  if (store.token === undefined) return;
  // The messages, their order and the 401 are E2B's envd's: SDKs and users match on them.
  if (tokenHeader) {
    if (!signaturesEqual(tokenHeader, store.token))
      throw new EnvdError("unauthenticated", "access token present in header but does not match");
    return;
  }
  if (!access.signature)
    throw new EnvdError("unauthenticated", "missing signature query parameter");
  let expiration: number | undefined;
  if (access.expiration !== null) {
    expiration = Number(access.expiration);
    if (!Number.isInteger(expiration))
      throw new EnvdError(
        "invalid_argument",
        "signature_expiration must be an integer (unix seconds)",
      );
  }
  const nonce = access.nonce ?? undefined;
  if (nonce !== undefined && expiration === undefined) {
    throw new EnvdError("invalid_argument", "a signature_nonce needs a signature_expiration");
  }
  const expected = computeSignature({ ...access, token: store.token, expiration, nonce });
  if (!signaturesEqual(access.signature, expected))
    throw new EnvdError("unauthenticated", "invalid signature");
  if (expiration !== undefined && expiration * 1000 < nowMs)
    throw new EnvdError("unauthenticated", "signature is already expired");
  if (nonce !== undefined && expiration !== undefined && !nonces.use(nonce, expiration * 1000)) {
    throw new EnvdError("unauthenticated", "signature was already used (replayed nonce)");
  }
}
