import { ApiError } from "./errors.js";
import { checkTimeoutSeconds, extendedTtl, ttlFromNow } from "./ttl.js";

const now = new Date("2026-01-01T00:00:00Z");
const at = (s: string) => new Date(s);

test.each([
  [undefined, 60, "2026-01-01T00:01:00.000Z"],
  [at("2026-01-01T00:00:30Z"), 60, "2026-01-01T00:01:00.000Z"], // extends
  [at("2026-01-01T01:00:00Z"), 60, "2026-01-01T01:00:00.000Z"], // never shortens
  [at("2025-12-31T00:00:00Z"), 0, "2026-01-01T00:00:00.000Z"], // past deadline: from now
])("extendedTtl(%s, +%d s)", (current, seconds, expected) => {
  expect(extendedTtl(current, now, seconds).toISOString()).toBe(expected);
});

test("ttlFromNow sets, up or down", () => {
  expect(ttlFromNow(now, 5).toISOString()).toBe("2026-01-01T00:00:05.000Z");
});

test.each([
  [0, 0],
  [86400, 86400],
])("checkTimeoutSeconds(%j)", (v, expected) => {
  expect(checkTimeoutSeconds(v, "timeout", 86400)).toBe(expected);
});

test.each([
  [86401, /maximum of 86400 s/],
  [-5, /negative/],
  [0.5, /whole/],
  [null, /whole/],
  ["5", /whole/],
])("checkTimeoutSeconds(%j) is a 400", (v, message) => {
  expect(() => checkTimeoutSeconds(v, "timeout", 86400)).toThrow(message);
  expect(() => checkTimeoutSeconds(v, "timeout", 86400)).toThrow(ApiError);
});
