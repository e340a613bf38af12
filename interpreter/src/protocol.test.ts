import {
  BadRequestError,
  errorLine,
  parseCreateContextRequest,
  parseExecuteRequest,
  resultFromBundle,
  stripAnsi,
} from "./protocol.js";

describe("MIME bundle → result fields", () => {
  const table: Array<[string, Record<string, unknown>, boolean, Record<string, unknown>]> = [
    ["plain text", { "text/plain": "2" }, true, { text: "2" }],
    ["a quoted string loses its quotes", { "text/plain": "'abc'" }, true, { text: "abc" }],
    ["double quotes too", { "text/plain": '"abc"' }, true, { text: "abc" }],
    ["quotes inside stay", { "text/plain": "'a' + 'b'" }, true, { text: "'a' + 'b'" }],
    ["ANSI colours go", { "text/plain": "\x1b[33m21\x1b[39m" }, true, { text: "21" }],
    ["text as a list of lines", { "text/plain": ["a", "b"] }, true, { text: "ab" }],
    [
      "every standard type",
      {
        "text/html": "<b>",
        "text/markdown": "*",
        "image/svg+xml": "<svg>",
        "image/png": "P",
        "image/jpeg": "J",
        "application/pdf": "D",
        "text/latex": "$x$",
        "application/json": { a: 1 },
        "application/javascript": "js",
      },
      false,
      {
        html: "<b>",
        markdown: "*",
        svg: "<svg>",
        png: "P",
        jpeg: "J",
        pdf: "D",
        latex: "$x$",
        json: { a: 1 },
        javascript: "js",
      },
    ],
    [
      "e2b data and chart",
      { "e2b/data": { a: [1] }, "e2b/chart": { type: "bar" } },
      false,
      { data: { a: [1] }, chart: { type: "bar" } },
    ],
    [
      "unknown types go to extra",
      { "text/plain": "x", "application/vnd.custom": 5 },
      false,
      { text: "x", extra: { "application/vnd.custom": 5 } },
    ],
  ];
  it.each(table)("%s", (_name, bundle, main, fields) => {
    expect(resultFromBundle(bundle, main)).toEqual({
      type: "result",
      is_main_result: main,
      ...fields,
    });
  });

  it("strips only colour sequences", () => {
    expect(stripAnsi("\x1b[1;31mred\x1b[0m plain")).toBe("red plain");
  });
});

describe("errors", () => {
  it("joins traceback lines; missing fields get defaults", () => {
    expect(errorLine({ ename: "KeyError", evalue: "'a'", traceback: ["l1", "l2"] })).toEqual({
      type: "error",
      name: "KeyError",
      value: "'a'",
      traceback: "l1\nl2",
    });
    expect(errorLine({})).toEqual({ type: "error", name: "Error", value: "", traceback: "" });
  });
});

describe("request bodies", () => {
  it("reads an /execute body", () => {
    expect(parseExecuteRequest({ code: "1", language: "python", env_vars: { A: "b" } })).toEqual({
      code: "1",
      language: "python",
      envVars: { A: "b" },
    });
    expect(parseExecuteRequest({ code: "1", context_id: "c", env_vars: null })).toEqual({
      code: "1",
      contextId: "c",
      envVars: {},
    });
  });

  const badExecute: Array<[string, unknown, RegExp]> = [
    ["not an object", [1], /JSON object/],
    ["no code", {}, /code is required/],
    ["code not a string", { code: 1 }, /code is required/],
    [
      "both context and language",
      { code: "", context_id: "c", language: "python" },
      /Only one of context_id or language/,
    ],
    ["language not a string", { code: "", language: 3 }, /language must be a string/],
    [
      "env_vars not an object",
      { code: "", env_vars: "A=b" },
      /env_vars body must be a JSON object/,
    ],
    ["a bad variable name", { code: "", env_vars: { "A-B": "x" } }, /not a variable name/],
    ["a value not a string", { code: "", env_vars: { A: 1 } }, /env_vars.A must be a string/],
  ];
  it.each(badExecute)("refuses an /execute body with %s", (_name, body, message) => {
    expect(() => parseExecuteRequest(body)).toThrow(BadRequestError);
    expect(() => parseExecuteRequest(body)).toThrow(message);
  });

  it("reads a /contexts body (empty is fine)", () => {
    expect(parseCreateContextRequest(undefined)).toEqual({});
    expect(parseCreateContextRequest({ language: "bash", cwd: "/tmp" })).toEqual({
      language: "bash",
      cwd: "/tmp",
    });
  });

  it.each([
    [{ cwd: "rel" }, /absolute/],
    [{ cwd: 1 }, /cwd must be a string/],
    ["x", /JSON object/],
  ])("refuses the /contexts body %j", (body, message) => {
    expect(() => parseCreateContextRequest(body)).toThrow(message);
  });
});
