import { randomUUID } from "node:crypto";
import { EnvdError } from "../shared/errors.js";
import { watchDirectory, type DirWatch, type FsEvent } from "./dir-watcher.js";

/** Polling watchers: events are buffered until the client collects them. */
export interface WatcherRegistry {
  create(path: string, recursive: boolean): Promise<string>;
  /** Returns and forgets the buffered events; throws when the watcher failed or is unknown. */
  drain(id: string): FsEvent[];
  remove(id: string): void;
  closeAll(): void;
}

interface Entry {
  watch: DirWatch;
  events: FsEvent[];
  failure: EnvdError | undefined;
  dropped: number;
}

/** Creates a {@link WatcherRegistry} that keeps at most `maxBuffered` events per watcher. */
export function createWatcherRegistry(maxBuffered = 10_000): WatcherRegistry {
  const watchers = new Map<string, Entry>();
  const lookup = (id: string) => {
    const w = watchers.get(id);
    if (!w) throw new EnvdError("not_found", `watcher '${id}' not found`);
    return w;
  };
  return {
    async create(path, recursive) {
      const id = randomUUID();
      const entry: Entry = {
        watch: { close: () => undefined },
        events: [],
        failure: undefined,
        dropped: 0,
      };
      entry.watch = await watchDirectory(
        path,
        recursive,
        (e) => {
          if (entry.events.length >= maxBuffered) {
            entry.events.shift();
            entry.dropped++;
          }
          entry.events.push(e);
        },
        (err) => (entry.failure = err),
      );
      watchers.set(id, entry);
      return id;
    },
    drain(id) {
      const w = lookup(id);
      if (w.failure) throw w.failure;
      const events = w.events;
      w.events = [];
      return events;
    },
    remove(id) {
      lookup(id).watch.close();
      watchers.delete(id);
    },
    closeAll() {
      for (const w of watchers.values()) w.watch.close();
      watchers.clear();
    },
  };
}
