import { createRateLimiter } from "./rate-limit.js";

test("a burst passes, the next call waits, tokens come back at the rate", () => {
  let t = 0;
  const limiter = createRateLimiter(2, 3, () => t);
  expect([1, 2, 3].map(() => limiter.take("k").ok)).toEqual([true, true, true]);
  expect(limiter.take("k")).toEqual({ ok: false, retryAfterSeconds: 1 });
  expect(limiter.take("other").ok).toBe(true); // buckets are per key
  t = 500; // one token back at 2/s
  expect(limiter.take("k").ok).toBe(true);
  expect(limiter.take("k").ok).toBe(false);
  t = 100_000; // refilled, and capped at the burst
  expect([1, 2, 3, 4].map(() => limiter.take("k").ok)).toEqual([true, true, true, false]);
});

test("Retry-After rounds up for slow rates", () => {
  const limiter = createRateLimiter(0.1, 1, () => 0);
  limiter.take("k");
  expect(limiter.take("k")).toEqual({ ok: false, retryAfterSeconds: 10 });
});

test.each([
  [0, 1],
  [1, 0],
])("rate %d burst %d is refused", (rate, burst) => {
  expect(() => createRateLimiter(rate, burst)).toThrow(/rate > 0/);
});
