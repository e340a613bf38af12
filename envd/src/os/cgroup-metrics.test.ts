import { createMetricsReader, parseProcCgroup } from "./cgroup-metrics.js";

describe("parseProcCgroup", () => {
  test("reads v1 controllers and the v2 unified path", () => {
    const text =
      "12:memory:/kubepods/pod1/c1\n4:cpu,cpuacct:/kubepods/pod1/c1\n0::/system.slice/x\n";
    const cg = parseProcCgroup(text);
    expect(cg.get("memory")).toBe("/kubepods/pod1/c1");
    expect(cg.get("cpuacct")).toBe("/kubepods/pod1/c1");
    expect(cg.get("cpu")).toBe("/kubepods/pod1/c1");
    expect(cg.get("")).toBe("/system.slice/x");
  });
});

describe("createMetricsReader", () => {
  test("reads real numbers from this machine's cgroup and disk", async () => {
    const m = await createMetricsReader()();
    expect(m.cpu_count).toBeGreaterThan(0);
    expect(m.cpu_used_pct).toBeGreaterThanOrEqual(0);
    expect(m.cpu_used_pct).toBeLessThanOrEqual(100);
    expect(m.mem_used).toBeGreaterThan(0);
    expect(m.mem_total).toBeGreaterThanOrEqual(m.mem_used);
    expect(m.disk_total).toBeGreaterThan(m.disk_used);
    expect(Math.abs(m.ts - Date.now() / 1000)).toBeLessThan(5);
  });
});
