import type { UnixUser } from "./users.js";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment a sandbox process starts with: a login-like base for the
 * user, then the sandbox-wide variables from `/init`, then the request's own.
 * The executor's own environment is deliberately not inherited. Pure.
 */
export function processEnv(
  user: UnixUser,
  sandboxEnv: Record<string, string>,
  requestEnv: Record<string, string>,
): Record<string, string> {
  return {
    PATH: DEFAULT_PATH,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    LANG: "C.UTF-8",
    ...sandboxEnv,
    ...requestEnv,
  };
}
