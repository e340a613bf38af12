import { createBroadcaster } from "./broadcaster.js";

const bytes = (s: string) => s.length;

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe("createBroadcaster", () => {
  test("every subscriber gets every later event, in order", async () => {
    const b = createBroadcaster<string>({ sizeOf: bytes });
    const s1 = b.subscribe();
    const s2 = b.subscribe();
    for (const e of ["a", "b", "c"]) b.publish(e);
    b.close();
    expect(await collect(s1)).toEqual(["a", "b", "c"]);
    expect(await collect(s2)).toEqual(["a", "b", "c"]);
  });

  test("events published with nobody listening go to the next subscriber, bounded", async () => {
    const b = createBroadcaster<string>({ sizeOf: bytes, orphanLimitBytes: 4 });
    for (const e of ["aa", "bb", "cc"]) b.publish(e);
    const late = b.subscribe();
    b.publish("dd");
    b.close();
    expect(await collect(late)).toEqual(["bb", "cc", "dd"]);
  });

  test("a subscriber that leaves does not disturb the others", async () => {
    const b = createBroadcaster<string>({ sizeOf: bytes });
    const ac = new AbortController();
    const leaving = b.subscribe(ac.signal);
    const staying = b.subscribe();
    b.publish("x");
    expect((await leaving.next()).value).toBe("x");
    ac.abort();
    b.publish("y");
    b.close();
    expect((await leaving.next()).done).toBe(true);
    expect(await collect(staying)).toEqual(["x", "y"]);
    expect(b.subscriberCount).toBe(0);
  });

  test("a slow subscriber pauses the producer until it drains", async () => {
    const pressure: boolean[] = [];
    const b = createBroadcaster<string>({
      sizeOf: bytes,
      highWaterBytes: 3,
      onPressure: (p) => pressure.push(p),
    });
    const s = b.subscribe();
    b.publish("ab");
    expect(pressure).toEqual([]);
    b.publish("cd");
    expect(pressure).toEqual([true]);
    await s.next();
    await s.next();
    expect(pressure).toEqual([true, false]);
  });

  test("a subscriber waiting for events wakes on publish", async () => {
    const b = createBroadcaster<string>({ sizeOf: bytes });
    const s = b.subscribe();
    const next = s.next();
    b.publish("later");
    expect(await next).toEqual({ value: "later", done: false });
  });
});
