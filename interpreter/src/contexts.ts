import { randomUUID } from "node:crypto";
import type { Logger } from "../../lib/log.js";
import { DEFAULT_LANGUAGE, normalizeLanguage, runtimeFor } from "./runtimes/index.js";
import type { OutputSink, RuntimeAdapter, RuntimeConfig, Session } from "./runtimes/types.js";

/** A context as the SDKs see it. */
export interface ContextInfo {
  id: string;
  language: string;
  cwd: string;
}

interface Context extends ContextInfo {
  runtime: RuntimeAdapter;
  /** The live (or starting) session; replaced after a restart or a death. */
  session: Promise<Session>;
  /** Why the last session ended, until the next call starts a new one. */
  died?: string;
  /** The tail of this context's call queue: calls run one at a time, in arrival order. */
  queue: Promise<void>;
}

/** A context id that does not exist. */
export class ContextNotFoundError extends Error {
  constructor(id: string) {
    super(`Context ${id} not found`);
    this.name = "ContextNotFoundError";
  }
}

/**
 * The contexts of one server: one session (kernel) each, created on POST /contexts or, per
 * language, on the first /execute naming that language (the default contexts). Calls on one
 * context queue in order; different contexts run in parallel. A session that dies makes the
 * running call end with an error line; the next call starts a fresh one and says so.
 */
export function createContexts(opts: {
  config: RuntimeConfig;
  env: NodeJS.ProcessEnv;
  defaultCwd: string;
  log: Logger;
}) {
  const contexts = new Map<string, Context>();
  const defaults = new Map<string, Promise<Context>>();

  const startSession = (ctx: Context): Promise<Session> => {
    const s = ctx.runtime.start({ cwd: ctx.cwd, env: opts.env, config: opts.config });
    void s.then(
      (session) =>
        void session.exited.then((how) => {
          if (contexts.get(ctx.id)?.session !== s) return;
          ctx.died = how;
          opts.log.warn("a context's session ended", {
            context: ctx.id,
            language: ctx.language,
            how,
          });
        }),
      () => {},
    );
    return s;
  };

  const create = async (
    language: string | undefined,
    cwd: string | undefined,
  ): Promise<ContextInfo> => {
    const lang = normalizeLanguage(language ?? DEFAULT_LANGUAGE);
    const runtime = runtimeFor(lang);
    const ctx: Context = {
      id: randomUUID(),
      language: lang,
      cwd: cwd ?? opts.defaultCwd,
      runtime,
      session: Promise.resolve(undefined as never),
      queue: Promise.resolve(),
    };
    ctx.session = startSession(ctx);
    try {
      await ctx.session;
    } catch (err) {
      throw new Error(
        `starting a ${lang} context failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    contexts.set(ctx.id, ctx);
    opts.log.info("context created", { context: ctx.id, language: lang, cwd: ctx.cwd });
    return info(ctx);
  };

  const info = (c: Context): ContextInfo => ({ id: c.id, language: c.language, cwd: c.cwd });

  const get = (id: string): Context => {
    const c = contexts.get(id);
    if (!c) throw new ContextNotFoundError(id);
    return c;
  };

  return {
    create,

    /** The default context of a language, created on first use (concurrent first uses share it). */
    async defaultFor(language: string): Promise<ContextInfo> {
      // One default context per runtime, under its first language name ("ts" and "typescript"
      // share one); an unknown language throws before anything is created.
      const lang = runtimeFor(language).languages[0] ?? normalizeLanguage(language);
      let d = defaults.get(lang);
      if (!d) {
        d = create(lang, undefined).then((i) => get(i.id));
        defaults.set(lang, d);
        d.catch(() => defaults.delete(lang));
      }
      return info(await d);
    },

    list: (): ContextInfo[] => [...contexts.values()].map(info),

    /** Throws ContextNotFoundError. */
    has: (id: string) => void get(id),

    /**
     * Queues one call on a context and resolves when it has run (or was skipped because the
     * client went away while it waited).
     */
    run(
      id: string,
      code: string,
      envVars: Record<string, string>,
      sink: OutputSink,
      signal: AbortSignal,
    ): Promise<void> {
      const ctx = get(id);
      const turn = ctx.queue.then(async () => {
        if (signal.aborted) return;
        if (ctx.died !== undefined) {
          sink.write({
            type: "stderr",
            text: `[soulbox] the ${ctx.language} kernel of this context had ended (${ctx.died}); it was restarted and its state is gone\n`,
            timestamp: new Date().toISOString(),
          });
          ctx.died = undefined;
          ctx.session = startSession(ctx);
        }
        let session: Session;
        try {
          session = await ctx.session;
        } catch (err) {
          sink.write({
            type: "error",
            name: "ContextStartError",
            value: String(err instanceof Error ? err.message : err),
            traceback: "",
          });
          ctx.died = "it could not start";
          return;
        }
        try {
          await session.execute(code, envVars, sink, signal);
        } catch (err) {
          const how = await Promise.race([
            session.exited,
            new Promise<undefined>((r) => setTimeout(r, 1000, undefined)),
          ]);
          sink.write({
            type: "error",
            name: "KernelDied",
            value: `the ${ctx.language} kernel ${how ?? (err instanceof Error ? err.message : String(err))}; the next call restarts it (its state is lost)`,
            traceback: "",
          });
          ctx.died ??= how ?? "it failed";
        }
      });
      ctx.queue = turn.catch(() => {});
      return turn;
    },

    async restart(id: string): Promise<void> {
      const ctx = get(id);
      const old = ctx.session;
      const next = (ctx.queue = ctx.queue.then(async () => {
        await old.then(
          (s) => s.shutdown(),
          () => {},
        );
        ctx.died = undefined;
        ctx.session = startSession(ctx);
        await ctx.session;
      }));
      ctx.queue = next.catch(() => {});
      await next;
    },

    async remove(id: string): Promise<void> {
      const ctx = get(id);
      contexts.delete(id);
      for (const [lang, d] of defaults)
        if ((await d.catch(() => undefined))?.id === id) defaults.delete(lang);
      await ctx.session.then(
        (s) => s.shutdown(),
        () => {},
      );
    },

    async closeAll(): Promise<void> {
      const all = [...contexts.values()];
      contexts.clear();
      await Promise.all(
        all.map((c) =>
          c.session.then(
            (s) => s.shutdown(),
            () => {},
          ),
        ),
      );
    },
  };
}

/** The context registry's interface. */
export type Contexts = ReturnType<typeof createContexts>;
