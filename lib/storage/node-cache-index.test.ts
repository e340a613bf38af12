import { createCacheIndex, type CacheEntry } from "./node-cache-index.js";

const entry = (name: string, size: number, pins = 0): CacheEntry => ({
  sha256: name,
  size,
  stamp: undefined,
  lastUsed: 0,
  pins,
});

/** An index of 100 bytes holding a(10) b(20) c(30) in that order (a least recently used). */
function abc() {
  const index = createCacheIndex(100);
  const a = entry("a", 10);
  const b = entry("b", 20);
  const c = entry("c", 30);
  for (const e of [a, b, c]) index.add(e);
  return { index, a, b, c };
}

test.each([
  { name: "it fits: nothing goes", need: 40, touch: "", pin: "", victims: [], fits: true },
  { name: "least recently used first", need: 45, touch: "", pin: "", victims: ["a"], fits: true },
  { name: "as many as needed", need: 70, touch: "", pin: "", victims: ["a", "b"], fits: true },
  { name: "a touch makes it recent", need: 45, touch: "a", pin: "", victims: ["b"], fits: true },
  { name: "pinned entries stay", need: 45, touch: "", pin: "a", victims: ["b"], fits: true },
  {
    name: "pins can leave no room",
    need: 80,
    touch: "",
    pin: "c",
    victims: ["a", "b"],
    fits: false,
  },
  { name: "the whole cap", need: 100, touch: "", pin: "", victims: ["a", "b", "c"], fits: true },
])("evictFor: $name", ({ need, touch, pin, victims, fits }) => {
  const { index, ...byName } = abc();
  const named = byName as Record<string, CacheEntry>;
  if (touch) index.touch(named[touch]!, 5);
  if (pin) named[pin]!.pins = 1;
  const got = index.evictFor(need);
  expect(got.victims.map((e) => e.sha256)).toEqual(victims);
  expect(got.fits).toBe(fits);
  const removed = victims.reduce((s, v) => s + named[v]!.size, 0);
  expect(index.bytes).toBe(60 - removed);
  expect(index.count).toBe(3 - victims.length);
});

test("reserved bytes count against the cap", () => {
  const { index } = abc();
  index.reserve(30);
  expect(index.evictFor(15).victims.map((e) => e.sha256)).toEqual(["a"]);
  index.release(30);
  expect(index.reserved).toBe(0);
});

test("remove takes only the entry object that is in the index", () => {
  const { index, a } = abc();
  const again = entry("a", 10);
  expect(index.remove(again)).toBe(false);
  expect(index.remove(a)).toBe(true);
  expect(index.remove(a)).toBe(false);
  expect(index.bytes).toBe(50);
});

test("adding an entry again replaces it, counted once, as the most recent", () => {
  const { index } = abc();
  index.add(entry("a", 10));
  expect(index.bytes).toBe(60);
  expect(index.entries().map((e) => e.sha256)).toEqual(["b", "c", "a"]);
  expect(index.pinnedBytes()).toBe(0);
});
