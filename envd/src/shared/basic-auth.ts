import { EnvdError } from "./errors.js";

/**
 * Reads the user name E2B's SDK sends as `Authorization: Basic base64("<user>:")`.
 * Returns undefined when there is no header. Throws on a malformed one. Pure.
 */
export function parseBasicUser(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1])
    throw new EnvdError(
      "unauthenticated",
      "the Authorization header must be 'Basic base64(user:)'",
    );
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const user = decoded.split(":")[0] ?? "";
  if (user === "") return undefined;
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(user)) {
    throw new EnvdError("unauthenticated", `'${user}' is not a valid user name`);
  }
  return user;
}
