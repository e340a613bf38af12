/**
 * The volume content token (E2B's `VolumeAndToken.token`): the SDK sends it as `Authorization:
 * Bearer` to `/volumecontent/{volumeID}/...`, which needs no API key. It says which team's volume
 * it opens and until when, signed with HMAC-SHA256 under a key of the team's own (a Secret in its
 * namespace, see volume-service.ts), so any gateway replica checks it and a token of one team never
 * opens another's volume. Pure: the key is given.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** What a token grants. */
export interface VolumeGrant {
  /** The volume id. */
  vid: string;
  /** The team namespace. */
  team: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

const PREFIX = "sbvol1";

const sign = (key: Buffer, payload: string) =>
  createHmac("sha256", key).update(`${PREFIX}.${payload}`).digest("base64url");

/** A token for `grant` under `key`. */
export function signVolumeToken(key: Buffer, grant: VolumeGrant): string {
  const payload = Buffer.from(JSON.stringify(grant)).toString("base64url");
  return `${PREFIX}.${payload}.${sign(key, payload)}`;
}

/**
 * The grant a token claims, unverified (the team names the key to check it with), or undefined
 * when it is not a volume token at all.
 */
export function peekVolumeToken(token: string): VolumeGrant | undefined {
  const [prefix, payload, sig, ...rest] = token.split(".");
  if (prefix !== PREFIX || !payload || !sig || rest.length > 0) return undefined;
  try {
    const g = JSON.parse(Buffer.from(payload, "base64url").toString()) as Partial<VolumeGrant>;
    if (typeof g.vid !== "string" || typeof g.team !== "string" || typeof g.exp !== "number")
      return undefined;
    return { vid: g.vid, team: g.team, exp: g.exp };
  } catch {
    return undefined;
  }
}

/** Why `token` does not open volume `vid` at `nowSeconds` under `key`, or undefined when it does. */
export function volumeTokenProblem(
  key: Buffer,
  token: string,
  vid: string,
  nowSeconds: number,
): string | undefined {
  const grant = peekVolumeToken(token);
  if (!grant) return "the volume token is not valid";
  const payload = token.split(".")[1] ?? "";
  const want = Buffer.from(sign(key, payload));
  const got = Buffer.from(token.split(".")[2] ?? "");
  if (want.length !== got.length || !timingSafeEqual(want, got))
    return "the volume token is not valid";
  if (grant.vid !== vid) return "the volume token is for another volume";
  if (grant.exp <= nowSeconds)
    return "the volume token has expired: get a new one with GET /volumes/{volumeID}";
  return undefined;
}
