import { resolveUserPath } from "./paths.js";

describe("resolveUserPath", () => {
  test.each([
    ["/etc/hosts", "/etc/hosts"],
    ["/tmp/../etc", "/etc"],
    ["notes.txt", "/home/user/notes.txt"],
    ["./a/b", "/home/user/a/b"],
    ["~", "/home/user"],
    ["~/x", "/home/user/x"],
  ])("%s → %s", (input, expected) => {
    expect(resolveUserPath(input, "/home/user")).toBe(expected);
  });

  test.each([
    ["", /must not be empty/],
    ["a\0b", /NUL/],
    ["bad\uFFFDname", /not valid UTF-8/],
  ])("refuses %j", (input, message) => {
    expect(() => resolveUserPath(input, "/home/user")).toThrow(message);
  });
});
