import { Sandbox } from "e2b";
import { startEnvd, type EnvdUnderTest } from "../../envd/test-support/envd-process.js";
import { ENVD_VERSION } from "../../api/envd.js";

/** A real envd plus an official e2b SDK `Sandbox` pointed at it (debug mode). */
export interface SdkHarness {
  envd: EnvdUnderTest;
  sandbox: Sandbox;
  stop(): Promise<void>;
}

// The SDK's constructor is internal; debug mode plus an explicit URL is how it
// talks to a local envd. This is the only cast of the SDK in the tests.
type SandboxCtor = new (opts: Record<string, unknown>) => Sandbox;

/** Starts envd (with optional flags) and connects the SDK to it, as E2B_DEBUG=true does. */
export async function startSdkHarness(
  args: string[] = [],
  accessToken?: string,
): Promise<SdkHarness> {
  const envd = await startEnvd(accessToken ? [...args, "--access-token", accessToken] : args);
  const sandbox = sdkSandboxAt(envd.url, accessToken);
  return { envd, sandbox, stop: () => envd.stop() };
}

/** The official SDK's `Sandbox` talking straight to the envd at `url` (a pod IP, a local port). */
export function sdkSandboxAt(url: string, accessToken?: string): Sandbox {
  return new (Sandbox as unknown as SandboxCtor)({
    sandboxId: "local",
    envdVersion: ENVD_VERSION,
    envdAccessToken: accessToken,
    debug: true,
    sandboxUrl: url,
  });
}

/** Polls `check` until it returns a value or the deadline passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await new Promise((r) => setTimeout(r, 50));
  }
}
