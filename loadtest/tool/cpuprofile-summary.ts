// Reads the .cpuprofile files `node --cpu-prof` writes, one per thread (main thread, the
// TUN reader thread, every shard worker), and says for each thread how busy it
// was and which functions took its time (self time). clinic flame samples the main thread
// only; this is the view into the data-plane threads.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  /** `name (file:line)`. */
  name: string;
  selfMs: number;
  percent: number;
}

export interface ThreadProfile {
  file: string;
  /** `main`, `tun-reader`, `shard`, or `worker <id>`. */
  thread: string;
  durationMs: number;
  /** Time not in (idle), percent of the duration. */
  busyPercent: number;
  top: FunctionTime[];
}

const IDLE = new Set(['(idle)']);

/** The thread a profile belongs to: the main thread by its file name, workers by their script. */
function threadName(file: string, nodes: readonly CpuProfileNode[]): string {
  // CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile; thread 0 is the main thread.
  const threadId = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(path.basename(file))?.[1];
  if (threadId === '0') return 'main';
  for (const name of ['tun-reader', 'shard']) {
    if (nodes.some((n) => n.callFrame.url.endsWith(`/workers/${name}.js`))) return name;
  }
  return `worker ${threadId ?? '?'}`;
}

function shortUrl(url: string): string {
  const src = url.lastIndexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.startsWith('node:') ? url : path.basename(url);
}

/** Summarizes one profile; `topN` functions by self time. */
export function summarizeProfile(file: string, profile: CpuProfile, topN = 8): ThreadProfile {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    // timeDeltas[i] is the time before sample i; attribute the next delta to sample i.
    const us = Math.max(0, deltas[i + 1] ?? 0);
    if (!node || IDLE.has(node.callFrame.functionName)) continue;
    busyUs += us;
    const frame = node.callFrame;
    const key = frame.url ? `${frame.functionName || '(anonymous)'} (${shortUrl(frame.url)}:${frame.lineNumber + 1})` : frame.functionName;
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  }
  const durationUs = Math.max(1, profile.endTime - profile.startTime);
  const top = [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([name, us]) => ({ name, selfMs: us / 1000, percent: (100 * us) / durationUs }));
  return { file, thread: threadName(file, profile.nodes), durationMs: durationUs / 1000, busyPercent: (100 * busyUs) / durationUs, top };
}

/** Every .cpuprofile in `dir`, main thread first. */
export async function summarizeProfileDir(dir: string, topN = 8): Promise<ThreadProfile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const order = (t: ThreadProfile): number => ['main', 'tun-reader', 'shard'].indexOf(t.thread.split(' ')[0]!) + 1 || 9;
  const summaries = await Promise.all(
    files.map(async (f) => summarizeProfile(path.join(dir, f), JSON.parse(await readFile(path.join(dir, f), 'utf8')) as CpuProfile, topN)),
  );
  return summaries.sort((a, b) => order(a) - order(b));
}

export function formatThreadProfiles(threads: readonly ThreadProfile[]): string {
  return threads
    .map((t) => [`${t.thread}: busy ${t.busyPercent.toFixed(0)}% of ${(t.durationMs / 1000).toFixed(1)} s  (${path.basename(t.file)})`, ...t.top.map((f) => `    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}`)].join('\n'))
    .join('\n');
}
