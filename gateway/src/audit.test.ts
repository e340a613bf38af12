import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { auditMiddleware, createAuditLog } from "./audit.js";

test("one line per call, appended to the file, with the route pattern and what the handlers set", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-"));
  const path = join(dir, "audit.log");
  const log = createAuditLog(path);
  const app = express();
  app.use(auditMiddleware(log));
  app.get("/sandboxes/:id", (req, res) => {
    res.locals.auth = { keyName: "k", team: "t" };
    res.locals.sandboxID = req.params.id;
    res.status(200).json({});
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    expect((await fetch(`${base}/sandboxes/abc`)).status).toBe(200);
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await log.close();
  }
  const lines = readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  rmSync(dir, { recursive: true });
  expect(lines).toEqual([
    expect.objectContaining({
      keyName: "k",
      team: "t",
      method: "GET",
      route: "/sandboxes/:id",
      sandboxID: "abc",
      status: 200,
      remote: "127.0.0.1",
    }),
    expect.objectContaining({
      keyName: null,
      team: null,
      route: "(no route)",
      sandboxID: null,
      status: 404,
    }),
  ]);
  expect(typeof lines[0]?.durationMs).toBe("number");
  expect(Date.parse(String(lines[0]?.ts))).not.toBeNaN();
});
