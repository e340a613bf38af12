import { peekVolumeToken, signVolumeToken, volumeTokenProblem } from "./token.js";

const key = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);
const grant = { vid: "v1", team: "team-a", exp: 2000 };
const token = signVolumeToken(key, grant);

test("a token carries its grant", () => {
  expect(peekVolumeToken(token)).toEqual(grant);
});

test.each<[string, Buffer, string, string, number, string | undefined]>([
  ["opens its volume before expiry", key, token, "v1", 1999, undefined],
  ["not another volume", key, token, "v2", 1999, "the volume token is for another volume"],
  [
    "not after expiry",
    key,
    token,
    "v1",
    2000,
    "the volume token has expired: get a new one with GET /volumes/{volumeID}",
  ],
  ["not under another key", other, token, "v1", 1999, "the volume token is not valid"],
  ["not an API key", key, "e2b_0123", "v1", 1999, "the volume token is not valid"],
  [
    "not with a changed grant",
    key,
    (() => {
      const [p, , s] = token.split(".");
      const forged = Buffer.from(JSON.stringify({ ...grant, vid: "v2" })).toString("base64url");
      return `${p}.${forged}.${s}`;
    })(),
    "v2",
    1999,
    "the volume token is not valid",
  ],
  ["not garbage", key, "sbvol1.%%%.x", "v1", 1999, "the volume token is not valid"],
])("a token %s", (_name, k, t, vid, now, problem) => {
  expect(volumeTokenProblem(k, t, vid, now)).toBe(problem);
});
