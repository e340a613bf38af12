import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJsonLinesWriter } from "./json-lines.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "json-lines-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("appends one shaped object per line, after what the file held, and is whole once closed", async () => {
  const path = join(dir, "audit.log");
  writeFileSync(path, '{"old":true}\n');
  const w = createJsonLinesWriter<{ n: number; text: string }>({
    path,
    shape: (r) => ({ kind: "test", ...r }),
  });
  for (let n = 0; n < 500; n++) w.write({ n, text: 'line\nbreak \u2028 and "quotes"' });
  await w.close();
  const lines = readFileSync(path, "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(501);
  expect(JSON.parse(lines[0] ?? "")).toEqual({ old: true });
  expect(lines.slice(1).map((l) => (JSON.parse(l) as { n: number }).n)).toEqual(
    Array.from({ length: 500 }, (_, i) => i),
  );
  expect(JSON.parse(lines[1] ?? "")).toEqual({
    kind: "test",
    n: 0,
    text: 'line\nbreak \u2028 and "quotes"',
  });
});
