/**
 * The per-sandbox Secret that holds envd's access token. The token lives in
 * a Secret (not in the Sandbox or the pod spec) so that only the envd sidecar
 * (through a secretKeyRef) and those allowed to read Secrets ever see it; the
 * code in the sandbox container never does.
 */
import { randomBytes } from "node:crypto";
import type { V1ObjectMeta, V1Secret } from "@kubernetes/client-node";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { TOKEN_KEY, tokenSecretName } from "../../../api/envd.js";
import { childMetadata } from "./owner.js";

/**
 * The token Secret as the operator wants it, for server-side apply. The token
 * is passed in, never made here: a reconcile must keep the token a running
 * envd already uses (read it back with {@link tokenFromSecret}) and make a new
 * one only when there is no Secret yet.
 */
export function desiredTokenSecret(sb: Sandbox, token: string): V1Secret {
  const name = sb.metadata.name ?? "";
  if (!token) throw new Error(`the envd access token of sandbox "${name}" must not be empty`);
  return tokenSecret(childMetadata(sb, tokenSecretName(name), "token"), token);
}

/** A Secret holding an envd access token under {@link TOKEN_KEY}. Pure. */
export function tokenSecret(metadata: V1ObjectMeta, token: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata,
    type: "Opaque",
    // `data`, not `stringData`: stringData is write-only, so an applied
    // stringData never reads back equal and every apply would look like a change.
    data: { [TOKEN_KEY]: Buffer.from(token, "utf8").toString("base64") },
  };
}

/** A new access token: 32 random bytes, base64url (43 characters, safe in headers and URLs). */
export function newAccessToken(): string {
  return randomBytes(32).toString("base64url");
}
