import { MarkerSplitter } from "./marker.js";
import { shellQuote } from "./shell-quote.js";

describe("MarkerSplitter", () => {
  const M = "__MARK__ ";
  const table: Array<[string, string[], string, string | undefined]> = [
    ["output then the marker line", ["hello\n__MARK__ 0\n"], "hello\n", "0"],
    ["the marker split over chunks", ["hel", "lo__MA", "RK__ 1", "2\n"], "hello", "12"],
    ["output without a newline before the marker", ["abc__MARK__ 3\n"], "abc", "3"],
    ["a lookalike that is not the marker", ["__MA", "X\n__MARK__ 0\n"], "__MAX\n", "0"],
    ["no marker yet", ["abc", "def"], "abcdef", undefined],
    ["a marker with no line end yet", ["x__MARK__ 0"], "x", undefined],
  ];
  it.each(table)("%s", (_name, chunks, out, ended) => {
    const s = new MarkerSplitter(M);
    let got = "";
    let end: string | undefined;
    for (const c of chunks) {
      const r = s.push(c);
      got += r.out;
      if (r.ended !== undefined) end = r.ended;
    }
    expect([got, end]).toEqual([out, ended]);
  });

  it("keeps what follows the marker line for the next cell", () => {
    const s = new MarkerSplitter(M);
    expect(s.push("a__MARK__ 0\nnext")).toEqual({ out: "a", ended: "0" });
    expect(s.push("")).toEqual({ out: "next" });
  });
});

describe("shellQuote", () => {
  it.each([
    ["plain", "'plain'"],
    ["it's", "'it'\\''s'"],
    ['$HOME `x` "y"', "'$HOME `x` \"y\"'"],
  ])("%s", (value, want) => {
    expect(shellQuote(value)).toBe(want);
  });
});
