/**
 * Express middleware for API keys and rate limits: 401 for a missing, unknown or expired key,
 * 429 with `Retry-After` when the key's bucket is empty. Sets `res.locals.auth` for the routes.
 */
import type { NextFunction, Request, Response } from "express";
import { ApiError } from "../api/errors.js";
import { presentedKey } from "./api-keys.js";
import type { KeyStore } from "./key-store.js";
import type { RateLimiter } from "./rate-limit.js";

/** Checks the key; the routes then act in its team. */
export function authMiddleware(keys: KeyStore) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const result = keys.check(presentedKey(req.headers));
    if (!result.ok) {
      const message =
        result.reason === "missing"
          ? "no API key: send it in the X-API-Key header (or Authorization: Bearer)"
          : result.reason === "expired"
            ? `the API key has expired (at ${result.key?.expiresAt ?? "?"}): create a new one with 'gateway keys create'`
            : "the API key is not valid";
      next(new ApiError(401, message));
      return;
    }
    res.locals.auth = { keyName: result.key.name, team: result.key.team };
    next();
  };
}

/** Takes a token from the key's bucket. Runs after {@link authMiddleware}. */
export function rateLimitMiddleware(limiter: RateLimiter) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const auth = res.locals.auth as { keyName: string } | undefined;
    const taken = limiter.take(auth?.keyName ?? "");
    if (taken.ok) {
      next();
      return;
    }
    res.setHeader("Retry-After", String(taken.retryAfterSeconds));
    next(
      new ApiError(
        429,
        `rate limit exceeded for this API key: retry in ${taken.retryAfterSeconds} s`,
      ),
    );
  };
}
