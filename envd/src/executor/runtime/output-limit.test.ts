import { createOutputLimit } from "./output-limit.js";

const bytes = (n: number) => new Uint8Array(n).fill(120);

describe("output limit", () => {
  it.each<[string, number, number[], (number | undefined)[], number | undefined, number]>([
    // name, limit, chunk sizes, sent sizes per chunk, index of the chunk that reached it, dropped
    ["no limit", 0, [5, 10_000], [5, 10_000], undefined, 0],
    ["under the limit", 100, [10, 20], [10, 20], undefined, 0],
    ["exactly the limit", 30, [10, 20], [10, 20], 1, 0],
    ["cut inside a chunk", 25, [10, 20, 5], [10, 15, undefined], 1, 10],
    ["first chunk past it", 4, [10], [4], 0, 6],
    ["limit reached, then an empty chunk", 10, [10, 0], [10, undefined], 0, 0],
  ])("%s", (_name, limit, chunks, sent, reachedAt, dropped) => {
    const l = createOutputLimit(limit);
    const results = chunks.map((n) => l.take(bytes(n)));
    expect(results.map((r) => r.send?.byteLength)).toEqual(sent);
    expect(results.findIndex((r) => r.reachedLimit)).toBe(reachedAt ?? -1);
    expect(results.filter((r) => r.reachedLimit)).toHaveLength(reachedAt === undefined ? 0 : 1);
    expect(l.droppedBytes).toBe(dropped);
  });
});
