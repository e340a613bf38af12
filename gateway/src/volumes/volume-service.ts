/**
 * Volumes against the API server: their PersistentVolumeClaims (create, list, read, delete) and the
 * team's key that signs volume content tokens (a Secret in the team namespace, made on first use,
 * so every gateway replica signs and checks with the same key).
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { Label, labelValue } from "../../../api/labels.js";
import { DNS_LABEL } from "../../../lib/flags.js";
import { ApiError } from "../api/errors.js";
import { FIELD_MANAGER, statusOf, type KubeCalls } from "../api/kube.js";
import { contentSandboxId } from "./content-sandbox.js";
import {
  claimNameOf,
  desiredClaim,
  toE2bVolume,
  volumeExists,
  volumeNotFound,
  volumeOf,
  type E2bVolume,
  type E2bVolumeAndToken,
  type VolumeRecord,
} from "./model.js";
import type { VolumeSettings } from "./settings.js";
import { peekVolumeToken, signVolumeToken, volumeTokenProblem } from "./token.js";

/** The Secret (in each team namespace) holding the key that signs its volume content tokens. */
export const TOKEN_KEY_SECRET = "soulbox-volume-token-key";
/** How long a content token is valid; the SDK gets a fresh one with every create and connect. */
export const TOKEN_TTL_SECONDS = 24 * 3600;

/** What the REST API does with volumes. */
export interface VolumeService {
  readonly settings: VolumeSettings;
  create(team: string, name: string): Promise<E2bVolumeAndToken>;
  list(team: string): Promise<E2bVolume[]>;
  /** The volume with a fresh content token; 404 when unknown (or another team's). */
  get(team: string, id: string): Promise<E2bVolumeAndToken>;
  /** The volume's record; 404 when unknown, being deleted or another team's. */
  find(team: string, id: string): Promise<VolumeRecord>;
  /** Deletes the claim (it waits for the pods still mounting it) and the content sandbox. */
  remove(team: string, id: string): Promise<void>;
  /** The claims of the team's volumes of these names. */
  claimsByName(team: string, names: readonly string[]): Promise<Map<string, string>>;
  /** The volume a bearer token opens, or a 401 (bad token) or 404 (no such volume). */
  authorize(token: string, id: string): Promise<VolumeRecord>;
}

/** The service against `kc`; `sandboxes` deletes content sandboxes. */
export function createVolumeService(
  kc: k8s.KubeConfig,
  sandboxes: Pick<KubeCalls, "readSecret" | "createSecret" | "deleteSandbox">,
  settings: VolumeSettings,
): VolumeService {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const keys = new Map<string, Promise<Buffer>>();

  /** The team's signing key, made once (a concurrent maker's key wins: both read it back). */
  const readKey = async (team: string) => {
    const s = await sandboxes.readSecret(team, TOKEN_KEY_SECRET);
    const b64 = s?.data?.key;
    return b64 ? Buffer.from(b64, "base64") : undefined;
  };
  const keyOf = (team: string): Promise<Buffer> => {
    const hit = keys.get(team);
    if (hit) return hit;
    const p = (async () => {
      const read = () => readKey(team);
      const existing = await read();
      if (existing) return existing;
      try {
        await sandboxes.createSecret(team, {
          metadata: { name: TOKEN_KEY_SECRET, labels: { [Label.team]: team } },
          type: "Opaque",
          data: { key: randomBytes(32).toString("base64") },
        });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
      }
      const made = await read();
      if (!made) throw new Error(`the Secret ${team}/${TOKEN_KEY_SECRET} has no key`);
      return made;
    })();
    keys.set(team, p);
    p.catch(() => keys.delete(team));
    return p;
  };

  const withToken = async (v: VolumeRecord): Promise<E2bVolumeAndToken> => ({
    ...toE2bVolume(v),
    token: signVolumeToken(await keyOf(v.team), {
      vid: v.id,
      team: v.team,
      exp: Math.floor(Date.now() / 1000) + TOKEN_TTL_SECONDS,
    }),
  });

  const readClaim = async (team: string, id: string) => {
    try {
      return await core.readNamespacedPersistentVolumeClaim({
        namespace: team,
        name: claimNameOf(id),
      });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  };

  const find = async (team: string, id: string): Promise<VolumeRecord> => {
    const claim = await readClaim(team, id);
    const v = claim && volumeOf(claim);
    if (!v || v.deleting || v.id !== id) throw volumeNotFound();
    return v;
  };

  const listVolumes = async (team: string, selector: string): Promise<VolumeRecord[]> => {
    const claims = await core.listNamespacedPersistentVolumeClaim({
      namespace: team,
      labelSelector: selector,
    });
    return claims.items
      .map(volumeOf)
      .filter((v): v is VolumeRecord => !!v && !v.deleting)
      .sort((a, b) => a.name.localeCompare(b.name));
  };

  return {
    settings,
    async create(team, name) {
      // Names are unique per team, as in E2B. Two creates of one name at the same moment could
      // both pass this check; the claims are still distinct volumes (their ids differ).
      const same = await listVolumes(team, `${Label.volumeName}=${labelValue(name)}`);
      if (same.some((v) => v.name === name)) throw volumeExists(name);
      const id = randomUUID();
      const claim = await core.createNamespacedPersistentVolumeClaim({
        namespace: team,
        body: desiredClaim(id, name, team, settings),
        fieldManager: FIELD_MANAGER,
      });
      const v = volumeOf(claim);
      if (!v) throw new Error(`the claim of volume ${id} came back without its labels`);
      return withToken(v);
    },
    async list(team) {
      return (await listVolumes(team, Label.volume)).map(toE2bVolume);
    },
    async get(team, id) {
      return withToken(await find(team, id));
    },
    find,
    async remove(team, id) {
      const v = await find(team, id);
      // The content sandbox mounts the claim: it goes first (the claim would otherwise wait for
      // it until its idle timeout).
      await sandboxes.deleteSandbox(team, contentSandboxId(id));
      try {
        await core.deleteNamespacedPersistentVolumeClaim({
          namespace: team,
          name: v.claimName,
          propagationPolicy: "Background",
        });
      } catch (err) {
        if (statusOf(err) === 404) throw volumeNotFound();
        throw err;
      }
    },
    async claimsByName(team, names) {
      const out = new Map<string, string>();
      if (names.length === 0) return out;
      const all = await listVolumes(team, Label.volume);
      for (const v of all) if (names.includes(v.name)) out.set(v.name, v.claimName);
      return out;
    },
    async authorize(token, id) {
      const grant = peekVolumeToken(token);
      // The team in an unchecked token only picks the key: a key is never made for it here.
      const key =
        grant && DNS_LABEL.test(grant.team)
          ? await (keys.get(grant.team) ?? readKey(grant.team))
          : undefined;
      if (!grant || !key) throw new ApiError(401, "the volume token is not valid");
      const problem = volumeTokenProblem(key, token, id, Math.floor(Date.now() / 1000));
      if (problem) throw new ApiError(401, problem);
      return find(grant.team, id);
    },
  };
}
