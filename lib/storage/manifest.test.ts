import { MANIFEST_FORMAT, decodeManifest, encodeManifest, type Manifest } from "./manifest.js";

const good: Manifest = {
  format: MANIFEST_FORMAT,
  size: 11,
  sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
  metadata: { sandbox: "sb-1" },
  committedAt: "2026-01-02T03:04:05.000Z",
  blob: ".blobs/0f8fad5b-d9cb-469f-a165-70867728950e",
  blobSize: 11,
};
const encrypted: Manifest = {
  ...good,
  blobSize: 27,
  encryption: {
    keyId: "k1",
    wrappedKey: Buffer.alloc(60, 1).toString("base64"),
    noncePrefix: Buffer.alloc(8, 2).toString("base64"),
    chunkSize: 65536,
  },
};

describe("manifest codec", () => {
  it.each([good, encrypted])("round-trips %#", (m) => {
    expect(decodeManifest(encodeManifest(m), "k")).toEqual(m);
  });

  it.each<[string, unknown]>([
    ["not JSON", "{"],
    ["an array", []],
    ["another format", { ...good, format: "other/v9" }],
    ["a negative size", { ...good, size: -1 }],
    ["a fractional size", { ...good, size: 1.5 }],
    ["a short sha256", { ...good, sha256: "abc" }],
    ["an upper-case sha256", { ...good, sha256: good.sha256.toUpperCase() }],
    ["a bad date", { ...good, committedAt: "yesterday" }],
    ["a blob outside .blobs", { ...good, blob: "../etc/passwd" }],
    ["a metadata number", { ...good, metadata: { a: 1 } }],
    ["metadata as a list", { ...good, metadata: ["a"] }],
    [
      "encryption without a key id",
      { ...encrypted, encryption: { ...encrypted.encryption, keyId: "" } },
    ],
    [
      "a short nonce prefix",
      { ...encrypted, encryption: { ...encrypted.encryption, noncePrefix: "AAAA" } },
    ],
    ["a tiny chunk size", { ...encrypted, encryption: { ...encrypted.encryption, chunkSize: 16 } }],
  ])("refuses %s as IntegrityMismatch", (_name, raw) => {
    const bytes = Buffer.from(typeof raw === "string" ? raw : JSON.stringify(raw));
    expect(() => decodeManifest(bytes, "snap/1")).toThrow(
      expect.objectContaining({
        code: "IntegrityMismatch",
        message: expect.stringMatching(/snap\/1/),
      }),
    );
  });
});
