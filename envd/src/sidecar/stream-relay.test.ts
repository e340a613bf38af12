import { gzipSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createEndStreamScanner,
  endStreamEnvelope,
  endStreamStatus,
  grpcStatusName,
} from "./stream-relay.js";

function envelope(flags: number, payload: string | Buffer): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** Feeds `body` to a scanner in pieces of `size` bytes. */
function scan(body: Buffer, size: number) {
  const scanner = createEndStreamScanner();
  for (let at = 0; at < body.length; at += size) scanner.push(body.subarray(at, at + size));
  return scanner.endStream();
}

describe("createEndStreamScanner", () => {
  const body = Buffer.concat([
    envelope(0, "a".repeat(70_000)),
    envelope(0, ""),
    envelope(0, "message"),
    envelope(2, '{"error":{"code":"not_found","message":"no"}}'),
  ]);

  test.each([1, 2, 4, 5, 6, 7, 1000, 65_536, body.length])(
    "finds the end-of-stream message in chunks of %i bytes",
    (size) => {
      const end = scan(body, size);
      expect(end?.flags).toBe(2);
      expect(end?.data.toString()).toBe('{"error":{"code":"not_found","message":"no"}}');
    },
  );

  test("has nothing while the end-of-stream message is incomplete or absent", () => {
    expect(scan(body.subarray(0, body.length - 1), 1000)).toBeUndefined();
    expect(scan(envelope(0, "x"), 1)).toBeUndefined();
  });

  test("an empty end-of-stream message counts", () => {
    expect(scan(envelope(2, ""), 3)).toEqual({ flags: 2, data: Buffer.alloc(0) });
  });
});

describe("endStreamStatus", () => {
  test.each([
    ["{}", "OK"],
    ['{"metadata":{}}', "OK"],
    ['{"error":{"code":"not_found","message":"x"}}', "NotFound"],
    ['{"error":{"code":"deadline_exceeded"}}', "DeadlineExceeded"],
    ['{"error":{"code":"nonsense"}}', "Unknown"],
    ["not json", "Unknown"],
  ])("%s is %s", (json, status) => {
    expect(endStreamStatus({ flags: 2, data: Buffer.from(json) }, undefined)).toBe(status);
  });

  test("a gzip-compressed end-of-stream message is read", () => {
    const data = gzipSync(Buffer.from('{"error":{"code":"canceled"}}'));
    expect(endStreamStatus({ flags: 3, data }, "gzip")).toBe("Canceled");
  });
});

test("endStreamEnvelope is one end-of-stream envelope with the error as Connect's JSON", () => {
  const bytes = endStreamEnvelope(new ConnectError("executor gone", Code.Unavailable));
  expect(bytes[0]).toBe(2);
  expect(bytes.readUInt32BE(1)).toBe(bytes.length - 5);
  expect(JSON.parse(bytes.subarray(5).toString())).toEqual({
    error: { code: "unavailable", message: "executor gone" },
  });
  expect(scan(bytes, 2)?.data.equals(bytes.subarray(5))).toBe(true);
});

test.each([
  ["0", "OK"],
  ["5", "NotFound"],
  ["14", "Unavailable"],
  ["99", "Unknown"],
  ["x", "Unknown"],
])("grpc-status %s is audited as %s", (status, name) => {
  expect(grpcStatusName(status)).toBe(name);
});
