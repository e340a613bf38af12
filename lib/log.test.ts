import { createLogger } from "./log.js";

test("writes one JSON object per line at the level and above, with bound fields and error messages", () => {
  const lines: string[] = [];
  const log = createLogger("info", { component: "t" }, (l) => lines.push(l)).with({
    sandbox: "ns/a",
  });
  log.debug("hidden");
  log.info("shown", { n: 1 });
  log.error("failed", { error: new Error("outer", { cause: new Error("inner") }) });
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed).toHaveLength(2);
  expect(parsed[0]).toMatchObject({
    level: "info",
    msg: "shown",
    component: "t",
    sandbox: "ns/a",
    n: 1,
  });
  expect(parsed[1]).toMatchObject({ level: "error", error: "outer (cause: inner)" });
  expect(typeof parsed[0]?.ts).toBe("string");
});
