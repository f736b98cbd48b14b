// CPU time a process has used (all its threads: main, TUN threads, shard workers), from
// /proc/<pid>/stat utime + stime, to show what a load test cost each broker; and the same
// per thread from /proc/<pid>/task/<tid>/stat, named by the thread's comm (the data-path
// threads name themselves kl-tun-reader, kl-shard-N; the rest keep Node's names).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

export interface ThreadCpu {
  tid: number;
  /** The thread's comm (e.g. kl-shard-0, or node for Node's own threads). */
  name: string;
  seconds: number;
}

/** CPU seconds of every thread of `pid` so far (empty when the process is gone). */
export function threadCpuSeconds(pid: number): ThreadCpu[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const threads: ThreadCpu[] = [];
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      threads.push({ tid: Number(tid), name, seconds: parseCpuTicks(stat) / clockTicks() });
    } catch {
      // the thread ended between readdir and read
    }
  }
  return threads;
}

/** Samples the threads of `pid` now; `stop()` returns what each used since, busiest first. */
export function startThreadCpuSample(pid: number): { stop(): ThreadCpu[] } {
  const before = new Map(threadCpuSeconds(pid).map((t) => [t.tid, t.seconds]));
  return {
    stop: () =>
      threadCpuSeconds(pid)
        .map((t) => ({ ...t, seconds: t.seconds - (before.get(t.tid) ?? 0) }))
        .sort((a, b) => b.seconds - a.seconds),
  };
}

/** One line per thread that used CPU: name, tid, seconds and % of one core over `wallSec`. */
export function formatThreadCpu(threads: readonly ThreadCpu[], wallSec: number): string {
  const busy = threads.filter((t) => t.seconds > 0);
  const total = busy.reduce((sum, t) => sum + t.seconds, 0);
  const lines = busy.map((t) => `    ${t.name.padEnd(16)} tid ${String(t.tid).padEnd(8)} ${t.seconds.toFixed(2).padStart(6)} s  ${((100 * t.seconds) / wallSec).toFixed(0).padStart(3)}% of a core`);
  return [`CPU per thread (utime+stime from /proc/PID/task/TID/stat over ${wallSec.toFixed(1)} s; total ${total.toFixed(2)} s = ${((100 * total) / wallSec).toFixed(0)}% of a core):`, ...lines].join('\n');
}
