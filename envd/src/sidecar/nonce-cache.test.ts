import { createNonceCache } from "./nonce-cache.js";

describe("createNonceCache", () => {
  test("refuses a nonce until it expires, then accepts it again", () => {
    let t = 1000;
    const cache = createNonceCache(10, () => t);
    expect(cache.use("a", 2000)).toBe(true);
    expect(cache.use("a", 2000)).toBe(false);
    t = 2001;
    expect(cache.use("a", 3000)).toBe(true);
  });

  test("stays bounded: expired entries go first, then the oldest", () => {
    let t = 0;
    const cache = createNonceCache(3, () => t);
    cache.use("old", 10);
    cache.use("b", 100);
    cache.use("c", 100);
    t = 50; // "old" has expired
    expect(cache.use("d", 100)).toBe(true);
    expect(cache.size).toBe(3);
    expect(cache.use("b", 100)).toBe(false);
    expect(cache.use("e", 100)).toBe(true); // evicts the oldest live one ("b")
    expect(cache.size).toBe(3);
    expect(cache.use("c", 100)).toBe(false);
  });
});
