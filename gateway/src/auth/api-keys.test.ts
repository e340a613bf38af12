import {
  checkKey,
  encodeKeyEntry,
  generateKey,
  hashKey,
  looksLikeKey,
  parseKeyEntries,
  presentedKey,
} from "./api-keys.js";

const key = generateKey();
const now = new Date("2026-01-01T00:00:00Z");
const entries = parseKeyEntries({
  good: encodeKeyEntry({ team: "team-a", sha256: hashKey(key), createdAt: "2025-01-01T00:00:00Z" }),
  old: encodeKeyEntry({
    team: "team-b",
    sha256: hashKey("e2b_old"),
    createdAt: "x",
    expiresAt: "2025-12-31T00:00:00Z",
  }),
  notjson: Buffer.from("{").toString("base64"),
  badteam: Buffer.from(JSON.stringify({ team: "Team A", sha256: "0".repeat(64) })).toString(
    "base64",
  ),
  badhash: Buffer.from(JSON.stringify({ team: "t", sha256: "xyz" })).toString("base64"),
});

test("keys look like E2B keys and hash to hex", () => {
  expect(looksLikeKey(key)).toBe(true);
  expect(hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("invalid entries are reported, valid ones kept", () => {
  expect(entries.keys.map((k) => k.name)).toEqual(["good", "old"]);
  expect(entries.invalid.map((i) => i.name)).toEqual(["notjson", "badteam", "badhash"]);
});

test.each([
  [undefined, { ok: false, reason: "missing" }],
  ["", { ok: false, reason: "missing" }],
  ["e2b_nope", { ok: false, reason: "unknown" }],
  ["e2b_old", { ok: false, reason: "expired" }],
  [key, { ok: true, key: expect.objectContaining({ name: "good", team: "team-a" }) }],
])("checkKey(%s)", (presented, expected) => {
  expect(checkKey(entries.keys, presented, now)).toMatchObject(expected);
});

test.each([
  [{ "x-api-key": "k1" }, "k1"],
  [{ authorization: "Bearer k2" }, "k2"],
  [{ authorization: "bearer   k3 " }, "k3"],
  [{ authorization: "Basic abc" }, undefined],
  [{ "x-api-key": "k1", authorization: "Bearer k2" }, "k1"],
  [{}, undefined],
])("presentedKey(%j)", (headers, expected) => {
  expect(presentedKey(headers)).toBe(expected);
});
