import { backoffDelay, createWorkQueue, type ReconcileResult } from "./work-queue.js";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await tick(5);
  }
}

describe("backoffDelay", () => {
  test.each([
    [1, 50],
    [2, 100],
    [3, 200],
    [20, 1000],
  ])("failure %i → %i ms (base 50, max 1000)", (n, expected) => {
    expect(backoffDelay(n, 50, 1000)).toBe(expected);
  });
});

describe("createWorkQueue", () => {
  test("a key added many times before processing is reconciled once", async () => {
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = createWorkQueue({
      workers: 1,
      reconcile: async (key) => {
        calls.push(key);
        if (key === "ns/blocker") await gate;
      },
    });
    q.add("ns/blocker");
    for (let i = 0; i < 10; i++) q.add("ns/a");
    expect(q.depth).toBe(1);
    release();
    await until(() => calls.length === 2);
    await tick(20);
    expect(calls).toEqual(["ns/blocker", "ns/a"]);
    await q.shutdown();
  });

  test("one reconcile in flight per key; a key added meanwhile runs again after", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const q = createWorkQueue({
      workers: 4,
      reconcile: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        runs++;
        await tick(30);
        inFlight--;
      },
    });
    q.add("ns/a");
    await tick(5);
    q.add("ns/a");
    q.add("ns/a");
    await until(() => runs === 2 && inFlight === 0);
    await tick(50);
    expect(runs).toBe(2);
    expect(maxInFlight).toBe(1);
    await q.shutdown();
  });

  test("failures retry with growing backoff and reset on success", async () => {
    const times: number[] = [];
    const q = createWorkQueue({
      baseDelayMs: 20,
      maxDelayMs: 1000,
      reconcile: async () => {
        times.push(Date.now());
        if (times.length < 4) throw new Error("boom");
      },
    });
    q.add("ns/flaky");
    await until(() => times.length === 4);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    await tick(20);
    expect(q.failures("ns/flaky")).toBe(0);
    await q.shutdown();
  });

  test("requeueAfter schedules the key again, keeping the earliest wake-up", async () => {
    const seen: number[] = [];
    const start = Date.now();
    const q = createWorkQueue({
      reconcile: async (): Promise<ReconcileResult> => {
        seen.push(Date.now() - start);
        return seen.length === 1 ? { requeueAfterMs: 100 } : {};
      },
    });
    q.add("ns/t");
    q.addAfter("ns/t", 5000); // later than the requeue: must not delay it
    await until(() => seen.length === 2);
    expect(seen[1]).toBeGreaterThanOrEqual(95);
    expect(seen[1]).toBeLessThan(1000);
    await q.shutdown();
  });

  test("different keys run in parallel up to the worker count", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const q = createWorkQueue({
      workers: 3,
      reconcile: async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await tick(30);
        inFlight--;
      },
    });
    for (let i = 0; i < 10; i++) q.add(`ns/k${i}`);
    await until(() => inFlight === 0 && q.depth === 0);
    expect(maxInFlight).toBe(3);
    await q.shutdown();
  });

  test("shutdown waits for in-flight work and takes no more", async () => {
    let done = 0;
    const q = createWorkQueue({
      reconcile: async () => {
        await tick(30);
        done++;
      },
    });
    q.add("ns/a");
    await tick(5);
    await q.shutdown();
    expect(done).toBe(1);
    q.add("ns/b");
    await tick(50);
    expect(done).toBe(1);
  });
});
