/** The header E2B's SDK uses to ask for keepalive events, in seconds. */
export const KEEPALIVE_HEADER = "keepalive-ping-interval";

/** Reads the keepalive interval in ms from request headers; undefined when absent or invalid. */
export function keepaliveIntervalMs(headers: Headers): number | undefined {
  const raw = headers.get(KEEPALIVE_HEADER);
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.max(seconds * 1000, 100);
}

/**
 * Yields the source's items and, whenever nothing was yielded for
 * `intervalMs`, a keepalive item, so a client can tell a quiet stream from a
 * dead sandbox. With no interval it yields the source unchanged.
 */
export async function* withKeepalive<T, K>(
  source: AsyncIterator<T>,
  intervalMs: number | undefined,
  keepalive: () => K,
): AsyncGenerator<T | K> {
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      pending ??= source.next();
      if (intervalMs === undefined) {
        const r = await pending;
        pending = undefined;
        if (r.done) return;
        yield r.value;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<"tick">(
        (resolve) => (timer = setTimeout(() => resolve("tick"), intervalMs)),
      );
      const r = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (r === "tick") {
        yield keepalive();
        continue;
      }
      pending = undefined;
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await source.return?.();
  }
}
