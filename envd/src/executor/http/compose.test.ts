import { parseComposeRequest } from "./compose.js";

describe("parseComposeRequest", () => {
  test.each<[string, string, object]>([
    [
      "two parts",
      '{"source_paths":["a","b"],"destination":"c"}',
      { sources: ["a", "b"], destination: "c" },
    ],
    [
      "with a user",
      '{"source_paths":["/p/1"],"destination":"/p/all","username":"root"}',
      { sources: ["/p/1"], destination: "/p/all", username: "root" },
    ],
  ])("%s", (_name, raw, want) => {
    expect(parseComposeRequest(raw)).toEqual(want);
  });

  test.each<[string, string, RegExp]>([
    ["not JSON", "{source_paths", /^invalid request body: /],
    ["an array", "[]", /^invalid request body: not a JSON object$/],
    ["no sources", '{"destination":"c"}', /^source_paths must not be empty$/],
    ["empty sources", '{"source_paths":[],"destination":"c"}', /^source_paths must not be empty$/],
    [
      "sources not a list",
      '{"source_paths":"a","destination":"c"}',
      /source_paths must be an array/,
    ],
    [
      "a source not a string",
      '{"source_paths":[1],"destination":"c"}',
      /source_paths must be strings/,
    ],
    ["no destination", '{"source_paths":["a"]}', /^destination is required$/],
    ["empty destination", '{"source_paths":["a"],"destination":""}', /^destination is required$/],
    [
      "a user not a string",
      '{"source_paths":["a"],"destination":"c","username":5}',
      /username must be a string/,
    ],
  ])("refuses %s", (_name, raw, message) => {
    expect(() => parseComposeRequest(raw)).toThrow(message);
  });
});
