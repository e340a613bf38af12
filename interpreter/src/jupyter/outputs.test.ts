import { outputFromIopub } from "./outputs.js";
import { makeHeader } from "./wire.js";

const iopub = (type: string, content: Record<string, unknown>) => ({
  header: { ...makeHeader(type, "s"), date: "2026-01-01T00:00:00Z" },
  parent_header: {},
  metadata: {},
  content,
});

describe("iopub message → /execute line", () => {
  const table: Array<[string, Record<string, unknown>, unknown]> = [
    [
      "stream",
      { name: "stdout", text: "hi\n" },
      { type: "stdout", text: "hi\n", timestamp: "2026-01-01T00:00:00Z" },
    ],
    [
      "stream",
      { name: "stderr", text: "oops" },
      { type: "stderr", text: "oops", timestamp: "2026-01-01T00:00:00Z" },
    ],
    [
      "execute_result",
      { data: { "text/plain": "2" } },
      { type: "result", is_main_result: true, text: "2" },
    ],
    [
      "display_data",
      { data: { "image/png": "iVBO" } },
      { type: "result", is_main_result: false, png: "iVBO" },
    ],
    [
      "error",
      { ename: "E", evalue: "v", traceback: ["a", "b"] },
      { type: "error", name: "E", value: "v", traceback: "a\nb" },
    ],
    ["execute_input", { code: "x" }, undefined],
    ["status", { execution_state: "idle" }, undefined],
    ["comm_open", {}, undefined],
  ];
  it.each(table)("%s %j", (type, content, want) => {
    expect(outputFromIopub(iopub(type, content))).toEqual(want);
  });
});
