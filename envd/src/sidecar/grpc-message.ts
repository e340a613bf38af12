/**
 * Decodes a percent-encoded grpc-message and encodes it the way the gRPC spec
 * asks: only '%' and bytes outside printable ASCII are escaped. Pure.
 *
 * Why: connect-es percent-encodes `grpc-message` with encodeURIComponent,
 * which also escapes '/', ':', ',' and the like; grpc-js decodes it with
 * decodeURI, which leaves those escaped, so stock grpc-js clients saw messages
 * such as "cannot stat '%2Ftmp%2Fx'".
 */
export function grpcPercentEncode(encoded: string): string {
  let raw: string;
  try {
    raw = decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
  let out = "";
  for (const byte of Buffer.from(raw, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
