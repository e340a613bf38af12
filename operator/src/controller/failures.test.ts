import { collectedError, createFailures } from "./failures.js";

test("a failed step is recorded and the next one still runs", async () => {
  const failures = createFailures();
  const boom = new Error("boom");
  expect(await failures.attempt("first", () => Promise.reject(boom))).toBeUndefined();
  expect(await failures.attempt("second", () => Promise.resolve(2), false)).toBe(2);
  await failures.attempt("third", () => Promise.reject(new Error("x")), false);
  expect(failures.list).toEqual([
    { what: "first", error: boom, child: true },
    { what: "third", error: new Error("x"), child: false },
  ]);
});

test("steps run side by side report in the order they were started, not the order they failed", async () => {
  const failures = createFailures();
  let failSlow: (e: Error) => void = () => undefined;
  const slow = failures.attempt(
    "slow",
    () => new Promise<never>((_r, reject) => (failSlow = reject)),
  );
  const fast = failures.attempt("fast", () => Promise.reject(new Error("fast")));
  await fast;
  failSlow(new Error("slow"));
  await slow;
  expect(failures.list.map((f) => f.what)).toEqual(["slow", "fast"]);
});

test.each([
  ["nothing", [], undefined],
  [
    "one error: itself, so its HTTP status still counts",
    [{ what: "a", error: "e1", child: true }],
    "e1",
  ],
])("collectedError of %s", (_name, list, expected) => {
  expect(collectedError(list)).toBe(expected);
});

test("collectedError of several is an AggregateError naming each step", () => {
  const e = collectedError([
    { what: "apply the Secret", error: new Error("1"), child: true },
    { what: "freeze", error: new Error("2"), child: false },
  ]);
  expect(e).toBeInstanceOf(AggregateError);
  expect((e as AggregateError).message).toBe("2 steps failed: apply the Secret, freeze");
  expect((e as AggregateError).errors).toHaveLength(2);
});
