/**
 * The sandbox that serves a volume's content API: a Sandbox of the content template (a gateway
 * setting, `base` by default) in the volume's team namespace, with the volume's claim mounted at
 * {@link CONTENT_MOUNT}, named from the volume id so every gateway replica finds the same one. It
 * is made on the first content request, kept while requests come (each pushes its deadline out),
 * and deleted by the operator once idle for the configured time (onTimeout Delete). The claim owns
 * it, and deleting the volume deletes it first. It is labelled so that sandbox lists skip it.
 */
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { Label } from "../../../api/labels.js";
import { resolveTemplate, TemplateError } from "../../../api/template.js";
import { isTerminal, readyCondition } from "../../../api/verdicts.js";
import { WaitTimeoutError } from "../sandboxes/sandbox-index.js";
import { expiresAt, isReady } from "../sandboxes/sandbox-state.js";
import type { ApiContext } from "../api/context.js";
import { desiredSandbox } from "../api/create.js";
import { TEMPLATE_CONFIGMAP_PREFIX, sizeOfTemplate } from "../api/e2b-json.js";
import { ApiError } from "../api/errors.js";
import { statusOf } from "../api/kube.js";
import { setDeadline } from "../api/lifecycle.js";
import type { VolumeRecord } from "./model.js";

/** Where a content sandbox sees the volume. */
export const CONTENT_MOUNT = "/volume";

/** The content sandbox of volume `id`. */
export const contentSandboxId = (id: string) => `vc-${id.toLowerCase().replace(/-/g, "")}`;

/** True for a volume content sandbox (not a user's: lists leave it out). */
export const isContentSandbox = (s: Sandbox) => !!s.metadata.labels?.[Label.volumeContent];

/** The content sandbox of `v` as it should be created. Pure. */
export function desiredContentSandbox(
  v: VolumeRecord,
  template: string,
  idleSeconds: number,
  size: ReturnType<typeof sizeOfTemplate>,
): Sandbox {
  const sb = desiredSandbox(
    contentSandboxId(v.id),
    v.team,
    {
      templateID: template,
      timeoutSeconds: idleSeconds,
      metadata: {},
      envVars: {},
      autoPause: false,
      autoResume: false,
      volumeMounts: [{ volume: v.claimName, path: CONTENT_MOUNT }],
    },
    size,
  );
  sb.metadata.labels = { ...sb.metadata.labels, [Label.volumeContent]: v.id };
  sb.metadata.ownerReferences = [
    { apiVersion: "v1", kind: "PersistentVolumeClaim", name: v.claimName, uid: v.uid },
  ];
  return sb;
}

/** Ensures content sandboxes, one start per volume at a time. */
export function createContentSandboxes(ctx: ApiContext) {
  const starting = new Map<string, Promise<Sandbox>>();
  const { contentTemplate, contentIdleSeconds } = ctx.volumes.settings;

  const start = async (v: VolumeRecord): Promise<Sandbox> => {
    const id = contentSandboxId(v.id);
    let s = ctx.index.get(id);
    if (!s || s.metadata.deletionTimestamp) {
      const cmName = `${TEMPLATE_CONFIGMAP_PREFIX}${contentTemplate}`;
      const cm = await ctx.kube.readConfigMap(v.team, cmName);
      if (!cm)
        throw new ApiError(
          503,
          `the volume content API needs the template '${contentTemplate}' in this team (the gateway's --volume-content-template)`,
        );
      let size;
      try {
        size = sizeOfTemplate(
          resolveTemplate(
            { metadata: { namespace: v.team }, spec: { templateRef: cmName } } as Sandbox,
            cm,
          ),
        );
      } catch (err) {
        if (err instanceof TemplateError)
          throw new ApiError(503, `template '${contentTemplate}' cannot be used: ${err.message}`, {
            cause: err,
          });
        throw err;
      }
      try {
        s = await ctx.kube.createSandbox(
          v.team,
          desiredContentSandbox(v, contentTemplate, contentIdleSeconds, size),
        );
      } catch (err) {
        // Another replica (or an earlier request) made it, or the last one is still going away.
        if (statusOf(err) !== 409) throw err;
      }
    }
    let ready: Sandbox | undefined;
    try {
      ready = await ctx.index.waitFor(
        id,
        (x) => !!x && !x.metadata.deletionTimestamp && (isReady(x) || isTerminal(x)),
        ctx.config.createTimeoutSeconds * 1000,
      );
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      const why = err.last ? readyCondition(err.last) : undefined;
      throw new ApiError(
        503,
        `the volume content sandbox was not ready within ${ctx.config.createTimeoutSeconds} s${why ? ` (${why.reason}: ${why.message})` : ""}`,
        { cause: err },
      );
    }
    if (!ready || isTerminal(ready)) {
      await ctx.kube.deleteSandbox(v.team, id).catch(() => undefined);
      throw new ApiError(
        503,
        `the volume content sandbox failed to start: ${(ready && readyCondition(ready)?.message) ?? "no reason given"}`,
      );
    }
    return ready;
  };

  return {
    /** The ready content sandbox of `v` (made if needed), its deadline pushed out. */
    async ensure(v: VolumeRecord): Promise<Sandbox> {
      const key = `${v.team}/${v.id}`;
      let p = starting.get(key);
      if (!p) {
        p = start(v).finally(() => starting.delete(key));
        starting.set(key, p);
      }
      const s = await p;
      // Idle time counts from the last request: push the deadline when half of it is used.
      const end = expiresAt(s);
      const idleMs = contentIdleSeconds * 1000;
      if (!end || end.getTime() - Date.now() < idleMs / 2)
        return setDeadline(ctx, s, new Date(Date.now() + idleMs));
      return s;
    },
  };
}
