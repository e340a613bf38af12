/**
 * One producer, many subscribers, in order. Every subscriber sees the events
 * published after it subscribed, in publication order. Events published while
 * nobody is subscribed are kept (up to `orphanLimitBytes`, oldest dropped
 * first) and handed to the next subscriber, so a client that reconnects after
 * a gap loses nothing that fits the buffer.
 *
 * Back-pressure: when any subscriber has more than `highWaterBytes` queued,
 * `onPressure(true)` asks the producer to pause; `onPressure(false)` when all
 * have drained below it. A subscriber that leaves releases its pressure.
 */
export interface Broadcaster<T> {
  publish(event: T): void;
  /** Ends every subscription after the queued events; later subscribers get the orphans then end. */
  close(): void;
  subscribe(signal?: AbortSignal): AsyncIterableIterator<T>;
  readonly subscriberCount: number;
  readonly closed: boolean;
}

/** Options for {@link createBroadcaster}. */
export interface BroadcasterOptions<T> {
  sizeOf: (event: T) => number;
  highWaterBytes?: number;
  orphanLimitBytes?: number;
  onPressure?: (paused: boolean) => void;
}

interface Subscriber<T> {
  queue: T[];
  queuedBytes: number;
  wake: (() => void) | undefined;
}

/** Creates a {@link Broadcaster}. */
export function createBroadcaster<T>(opts: BroadcasterOptions<T>): Broadcaster<T> {
  const highWater = opts.highWaterBytes ?? 1 << 20;
  const orphanLimit = opts.orphanLimitBytes ?? 8 << 20;
  const subscribers = new Set<Subscriber<T>>();
  let orphans: T[] = [];
  let orphanBytes = 0;
  let closed = false;
  let paused = false;

  const updatePressure = () => {
    let over = false;
    for (const s of subscribers) if (s.queuedBytes > highWater) over = true;
    if (over !== paused) {
      paused = over;
      opts.onPressure?.(over);
    }
  };

  const keepOrphan = (event: T) => {
    orphans.push(event);
    orphanBytes += opts.sizeOf(event);
    while (orphanBytes > orphanLimit && orphans.length > 1) {
      orphanBytes -= opts.sizeOf(orphans.shift() as T);
    }
  };

  return {
    get subscriberCount() {
      return subscribers.size;
    },
    get closed() {
      return closed;
    },
    publish(event) {
      if (closed) return;
      if (subscribers.size === 0) return keepOrphan(event);
      for (const s of subscribers) {
        s.queue.push(event);
        s.queuedBytes += opts.sizeOf(event);
        s.wake?.();
      }
      updatePressure();
    },
    close() {
      closed = true;
      for (const s of subscribers) s.wake?.();
    },
    subscribe(signal) {
      const sub: Subscriber<T> = { queue: orphans, queuedBytes: orphanBytes, wake: undefined };
      orphans = [];
      orphanBytes = 0;
      subscribers.add(sub);
      const leave = () => {
        subscribers.delete(sub);
        sub.wake?.();
        updatePressure();
      };
      signal?.addEventListener("abort", leave, { once: true });
      const iterator: AsyncIterableIterator<T> = {
        [Symbol.asyncIterator]() {
          return iterator;
        },
        async next() {
          for (;;) {
            const event = sub.queue.shift();
            if (event !== undefined) {
              sub.queuedBytes -= opts.sizeOf(event);
              if (paused) updatePressure();
              return { value: event, done: false };
            }
            if (closed || !subscribers.has(sub) || signal?.aborted) {
              leave();
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => (sub.wake = resolve));
            sub.wake = undefined;
          }
        },
        async return() {
          leave();
          return { value: undefined, done: true };
        },
      };
      return iterator;
    },
  };
}
