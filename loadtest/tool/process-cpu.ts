// CPU time a process has used (all its threads: main, TUN threads, shard workers), from
// /proc/<pid>/stat utime + stime, to show what a load test cost each broker.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicksPerSecond: number | undefined;

/** USER_HZ, the unit of utime/stime (100 on practically every Linux). */
export function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** utime + stime in clock ticks from the text of /proc/<pid>/stat. */
export function parseCpuTicks(stat: string): number {
  // The command name (field 2) may contain spaces and parentheses: count after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc stat line: ${stat.slice(0, 120)}`);
  return utime + stime;
}

/** CPU seconds `pid` has used so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    return parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Samples `pids` now; `stop()` returns the CPU seconds each used since (0 when it vanished). */
export function startCpuSample(pids: ReadonlyMap<string, number>): { stop(): Map<string, number> } {
  const before = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid) ?? 0]));
  return {
    stop: () => new Map([...pids].map(([name, pid]) => [name, Math.max(0, (cpuSeconds(pid) ?? before.get(name)!) - before.get(name)!)])),
  };
}
