import { createImageImports } from "./image-imports.js";

/** A job that ends when its `end` is called (or fails through `fail`). */
function gate() {
  let end!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    end = resolve;
    fail = reject;
  });
  return { job: () => done, end, fail };
}

test("settled waits for the import of that image only, then resolves", async () => {
  const imports = createImageImports();
  const a = gate();
  imports.start("img:a", a.job, () => undefined);
  let settledA = false;
  const waitingA = imports.settled("img:a").then(() => (settledA = true));
  await imports.settled("img:b"); // nothing runs for b: at once
  await Promise.resolve();
  expect(settledA).toBe(false);
  expect(imports.running).toBe(1);
  a.end();
  await waitingA;
  expect(settledA).toBe(true);
  expect(imports.running).toBe(0);
});

test("a failed import is reported to onError and settles without rejecting", async () => {
  const imports = createImageImports();
  const seen: unknown[] = [];
  const g = gate();
  imports.start("img:a", g.job, (err) => seen.push(err));
  g.fail(new Error("ctr: connection refused"));
  await imports.settled("img:a");
  expect(seen).toEqual([new Error("ctr: connection refused")]);
  expect(imports.running).toBe(0);
});

test("a second import of the same image runs after the first; idle waits for all", async () => {
  const imports = createImageImports();
  const order: string[] = [];
  const first = gate();
  imports.start(
    "img:a",
    async () => {
      await first.job();
      order.push("first");
    },
    () => undefined,
  );
  imports.start(
    "img:a",
    async () => {
      order.push("second");
    },
    () => undefined,
  );
  await Promise.resolve();
  expect(order).toEqual([]);
  first.end();
  await imports.idle();
  expect(order).toEqual(["first", "second"]);
  expect(imports.running).toBe(0);
});
