/** What to do with one chunk of output under a byte limit. */
export interface LimitedChunk {
  /** The part to send (possibly cut short); undefined when nothing of it goes out. */
  send: Uint8Array | undefined;
  /** True for the one chunk that reached the limit: the caller says "truncated" after it. */
  reachedLimit: boolean;
}

/** Counts a run's output against `maxBytes` (stdout and stderr together; 0 = no limit). */
export interface OutputLimit {
  take(chunk: Uint8Array): LimitedChunk;
  /** Bytes produced past the limit and not sent. */
  readonly droppedBytes: number;
}

/**
 * Creates an {@link OutputLimit}. Output past the limit is dropped, not held back: the process
 * keeps running and keeps being read (stopping the reads would stall it on a full pipe). Pure.
 */
export function createOutputLimit(maxBytes: number): OutputLimit {
  let sent = 0;
  let dropped = 0;
  let reached = false;
  return {
    take(chunk) {
      if (maxBytes <= 0) return { send: chunk, reachedLimit: false };
      if (reached) {
        dropped += chunk.byteLength;
        return { send: undefined, reachedLimit: false };
      }
      const room = maxBytes - sent;
      if (chunk.byteLength < room) {
        sent += chunk.byteLength;
        return { send: chunk, reachedLimit: false };
      }
      reached = true;
      sent = maxBytes;
      dropped += chunk.byteLength - room;
      return { send: room > 0 ? chunk.subarray(0, room) : undefined, reachedLimit: true };
    },
    get droppedBytes() {
      return dropped;
    },
  };
}
