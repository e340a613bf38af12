import type { UnixUser } from "./users.js";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Variables of the container that are about the executor's own process, not the sandbox: the
 * user-specific ones (a process gets its user's), the shell's working directory, and what
 * Kubernetes injects for its own API (a sandbox must not be pointed at the cluster).
 */
const NOT_SANDBOX_WIDE = new Set([
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "PWD",
  "OLDPWD",
  "SHLVL",
  "_",
]);

/**
 * The sandbox-wide variables a pod's sandbox container was given — the image's `ENV`, the
 * template's `env` and the Secrets of `spec.envFrom` (E2B's create-time `envVars`) — read from the
 * executor's own environment when it runs as the container's PID 1. Pure.
 */
export function containerEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || NOT_SANDBOX_WIDE.has(name) || name.startsWith("KUBERNETES_"))
      continue;
    out[name] = value;
  }
  return out;
}

/**
 * The environment a sandbox process starts with: a login-like base for the
 * user, then the sandbox-wide variables from `/init`, then the request's own.
 * The executor's own environment is not inherited as such: in a pod, {@link containerEnv}
 * picks the sandbox's variables out of it (`--inherit-env`); run locally under `npm run envd` it
 * is the developer's shell, which a sandbox must not see. Pure.
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
