import { Sandbox } from "e2b";
import { startEnvd, type EnvdUnderTest } from "../../envd/test-support/envd-process.js";
import { ENVD_VERSION } from "../../api/envd.js";

export { eventually } from "../../envd/test-support/eventually.js";

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
