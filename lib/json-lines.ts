/**
 * One JSON-lines writer for SoulBox's record streams (the gateway's and envd's audit logs): one
 * JSON object per line, appended to a file, or to stdout when no file is given. A record is one
 * `write` call, so concurrent writers in one process never interleave inside a line.
 */
import { createWriteStream, type WriteStream } from "node:fs";

/** Where records go, one JSON object per line. */
export interface JsonLinesWriter<R extends object> {
  /** Queues one record; writes are ordered. */
  write(record: R): void;
  /** Flushes and closes the file (stdout stays open); resolves when every record is written. */
  close(): Promise<void>;
}

/** Options of {@link createJsonLinesWriter}. */
export interface JsonLinesOptions<R extends object> {
  /** The file to append to; stdout when absent. */
  path?: string;
  /** Turns a record into the object written (e.g. to add a timestamp); identity when absent. */
  shape?: (record: R) => object;
}

/** A writer appending to `opts.path` , or writing to stdout. */
export function createJsonLinesWriter<R extends object>(
  opts: JsonLinesOptions<R> = {},
): JsonLinesWriter<R> {
  const file: WriteStream | undefined = opts.path
    ? createWriteStream(opts.path, { flags: "a" })
    : undefined;
  const out = file ?? process.stdout;
  const shape = opts.shape ?? ((r: R) => r);
  return {
    write(record) {
      out.write(`${JSON.stringify(shape(record))}\n`);
    },
    close() {
      if (!file) return Promise.resolve();
      return new Promise((resolve) => file.end(() => resolve()));
    },
  };
}
