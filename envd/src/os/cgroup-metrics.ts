import { readFile, statfs } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import type { SandboxMetrics } from "../../../api/envd.js";

/** Where this process's cgroup lives in each hierarchy (v2: key ""). Pure. */
export function parseProcCgroup(content: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of content.trim().split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined || controllers === undefined) continue;
    for (const c of controllers.split(",")) out.set(c, path);
  }
  return out;
}

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const n = Number(text.trim().split("\n")[0]?.split(" ").pop());
  return Number.isFinite(n) ? n : undefined;
}

/** A cgroup limit file: "max" or a huge v1 sentinel means no limit. */
function limitOrUndefined(n: number | undefined): number | undefined {
  return n === undefined || n >= 2 ** 60 ? undefined : n;
}

interface CpuSample {
  usageNs: number;
  atNs: bigint;
}

/**
 * Reads CPU, memory and disk of the sandbox from its own cgroup (v2 unified,
 * or the v1 cpuacct and memory hierarchies), so the numbers describe the
 * sandbox container, not the node. CPU percentage is over the interval since
 * the previous call (the first call measures over 100 ms).
 */
export function createMetricsReader(cgroupRoot = "/sys/fs/cgroup", diskPath = "/") {
  let last: CpuSample | undefined;

  const paths = async () =>
    parseProcCgroup(await readFile("/proc/self/cgroup", "utf8").catch(() => ""));

  const cpuUsageNs = async (cg: Map<string, string>) => {
    const v2 = cg.get("");
    if (v2 !== undefined) {
      const text = await readFile(`${cgroupRoot}${v2}/cpu.stat`, "utf8").catch(() => undefined);
      const usec = text && /usage_usec (\d+)/.exec(text)?.[1];
      if (usec) return Number(usec) * 1000;
    }
    const v1 = cg.get("cpuacct");
    if (v1 !== undefined) {
      const ns =
        (await readNumber(`${cgroupRoot}/cpuacct${v1}/cpuacct.usage`)) ??
        (await readNumber(`${cgroupRoot}/cpu,cpuacct${v1}/cpuacct.usage`));
      if (ns !== undefined) return ns;
    }
    const stat = await readFile("/proc/self/stat", "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1e7; // clock ticks (100 Hz) → ns
  };

  const memory = async (cg: Map<string, string>) => {
    const v2 = cg.get("");
    let used: number | undefined;
    let limit: number | undefined;
    const v1 = cg.get("memory");
    if (v1 !== undefined) {
      used = await readNumber(`${cgroupRoot}/memory${v1}/memory.usage_in_bytes`);
      limit = limitOrUndefined(await readNumber(`${cgroupRoot}/memory${v1}/memory.limit_in_bytes`));
    }
    if (used === undefined && v2 !== undefined) {
      used = await readNumber(`${cgroupRoot}${v2}/memory.current`);
      limit = limitOrUndefined(await readNumber(`${cgroupRoot}${v2}/memory.max`));
    }
    return { used: used ?? totalmem() - (await freeMem()), total: limit ?? totalmem() };
  };

  const sampleCpu = async (cg: Map<string, string>): Promise<CpuSample> => ({
    usageNs: await cpuUsageNs(cg),
    atNs: process.hrtime.bigint(),
  });

  return async function read(): Promise<SandboxMetrics> {
    const cg = await paths();
    if (!last) {
      last = await sampleCpu(cg);
      await new Promise((r) => setTimeout(r, 100));
    }
    const now = await sampleCpu(cg);
    const cpuCount = availableParallelism();
    const wallNs = Number(now.atNs - last.atNs);
    const pct = wallNs > 0 ? ((now.usageNs - last.usageNs) / wallNs / cpuCount) * 100 : 0;
    last = now;
    const mem = await memory(cg);
    const fs = await statfs(diskPath);
    return {
      ts: Math.floor(Date.now() / 1000),
      cpu_count: cpuCount,
      cpu_used_pct: Math.max(0, Math.min(100, Math.round(pct * 100) / 100)),
      mem_total: mem.total,
      mem_used: mem.used,
      disk_used: (fs.blocks - fs.bfree) * fs.bsize,
      disk_total: fs.blocks * fs.bsize,
    };
  };
}

async function freeMem(): Promise<number> {
  const text = await readFile("/proc/meminfo", "utf8").catch(() => "");
  const kb = /MemAvailable:\s+(\d+)/.exec(text)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}
