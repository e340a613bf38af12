/**
 * The operator's calls to a sandbox's envd: freeze and thaw for pauseMode
 * Freeze, and `/init` to give a pool pod the identity of the Sandbox that took
 * it. They go straight to the pod IP (the operator runs in the cluster
 * network), authenticated with the token envd holds.
 */
export interface EnvdClient {
  /** Freezes (true) or thaws (false) every sandbox process; resolves to the state envd reports. */
  setFrozen(endpoint: string, token: string, frozen: boolean): Promise<boolean>;
  /**
   * `POST /init` with `token` (the one envd holds now): envd takes `accessToken` as its token
   * from then on and gives `envVars` to every process it starts. Rejects with an
   * {@link EnvdCallError} of status 401 when envd holds another token.
   */
  init(endpoint: string, token: string, body: EnvdInit): Promise<void>;
}

/** What `/init` sets. */
export interface EnvdInit {
  accessToken: string;
  envVars?: Record<string, string>;
}

/** envd did not do what was asked; `status` is its HTTP status when it answered. */
export class EnvdCallError extends Error {
  override name = "EnvdCallError";
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Creates a client with a per-call deadline. */
export function createEnvdClient(timeoutMs = 10_000): EnvdClient {
  return {
    async setFrozen(endpoint, token, frozen) {
      const path = frozen ? "/freeze" : "/thaw";
      let res: Response;
      try {
        res = await fetch(`${endpoint}${path}`, {
          method: "POST",
          headers: { "x-access-token": token },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new EnvdCallError(`envd at ${endpoint} did not answer POST ${path}`, undefined, {
          cause: err,
        });
      }
      const text = await res.text();
      if (!res.ok)
        throw new EnvdCallError(
          `envd answered POST ${path} with ${res.status}: ${text}`,
          res.status,
        );
      const body = JSON.parse(text) as { frozen?: unknown };
      return body.frozen === true;
    },
    async init(endpoint, token, body) {
      let res: Response;
      try {
        res = await fetch(`${endpoint}/init`, {
          method: "POST",
          headers: { "x-access-token": token, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new EnvdCallError(`envd at ${endpoint} did not answer POST /init`, undefined, {
          cause: err,
        });
      }
      const text = await res.text();
      if (!res.ok)
        throw new EnvdCallError(`envd answered POST /init with ${res.status}: ${text}`, res.status);
    },
  };
}
