// `lab soak --minutes N`: two brokers on a fresh lab under traffic for N minutes while
// cluster 2's broker is restarted again and again; cluster 1's broker's RSS and open fds
// are sampled after each round and their growth over the run is checked against a bound.
import { readdir, readFile } from 'node:fs/promises';
import { Lab } from '../lab/lab.js';
import { runIperf } from '../lab/iperf.js';
import { FileBrokers } from '../lab/file-brokers.js';
import type { Logger } from '../../src/shared/log.js';

export interface SoakOptions {
  minutes: number;
  /** Stop after this many rounds even when time is left (the smoke test runs two). */
  maxRounds?: number;
  /** iperf3 seconds per round; a peer restart follows each round. */
  trafficSec?: number;
  /** Growth allowed between the first and the last samples. */
  maxRssGrowthMb?: number;
  maxFdGrowth?: number;
  prefix?: string;
  log?: Logger;
}

export interface SoakSample {
  atSec: number;
  rssMb: number;
  fds: number;
}

export interface SoakReport {
  minutes: number;
  peerRestarts: number;
  /** Throughput of each round's iperf3 run, Gbit/s. */
  roundsGbps: number[];
  samples: SoakSample[];
  rssGrowthMb: number;
  fdGrowth: number;
  ok: boolean;
  problems: string[];
}

async function sample(pid: number, startedAt: number): Promise<SoakSample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { atSec: Math.round((Date.now() - startedAt) / 1000), rssMb: Math.round((rssKb / 1024) * 10) / 10, fds };
}

/** The median of the last three samples: one GC-timing outlier does not decide the verdict. */
function settled(samples: readonly SoakSample[], field: 'rssMb' | 'fds'): number {
  const last = samples.slice(-3).map((s) => s[field]).sort((a, b) => a - b);
  return last[Math.floor(last.length / 2)]!;
}

export interface SoakBounds {
  maxRssGrowthMb?: number;
  maxFdGrowth?: number;
}

/** The growth from the first sample to the settled end, and what exceeds the bounds (default 30 MB, 4 fds). */
export function judgeSoak(samples: readonly SoakSample[], bounds: SoakBounds, brokerAlive: boolean): Pick<SoakReport, 'rssGrowthMb' | 'fdGrowth' | 'problems'> {
  if (samples.length === 0) throw new RangeError('judgeSoak: no samples');
  const rssGrowthMb = Math.round((settled(samples, 'rssMb') - samples[0]!.rssMb) * 10) / 10;
  const fdGrowth = settled(samples, 'fds') - samples[0]!.fds;
  const maxRss = bounds.maxRssGrowthMb ?? 30;
  const maxFds = bounds.maxFdGrowth ?? 4;
  const problems: string[] = [];
  if (rssGrowthMb > maxRss) problems.push(`RSS grew ${rssGrowthMb} MB (bound ${maxRss} MB)`);
  if (fdGrowth > maxFds) problems.push(`open fds grew by ${fdGrowth} (bound ${maxFds})`);
  if (!brokerAlive) problems.push("cluster 1's broker died");
  return { rssGrowthMb, fdGrowth, problems };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const trafficSec = options.trafficSec ?? 10;
  const lab = new Lab({ clusters: 2, prefix: options.prefix, log: options.log });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const brokers = new FileBrokers(lab);
  try {
    await lab.create();
    await brokers.startAll();
    await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 60_000 });
    const pid = brokers.get(1).pid;
    const startedAt = Date.now();
    const deadline = startedAt + options.minutes * 60_000;
    // Warm-up round: the baseline is taken with the tunnel and its buffers in use.
    await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: Math.min(3, trafficSec) });
    const samples = [await sample(pid, startedAt)];
    const roundsGbps: number[] = [];
    let peerRestarts = 0;
    while (Date.now() < deadline && peerRestarts < (options.maxRounds ?? Infinity)) {
      const result = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: trafficSec });
      roundsGbps.push(Math.round(result.bitsPerSecond / 1e7) / 100);
      await brokers.get(2).stop(5000);
      await brokers.start(c2);
      peerRestarts++;
      await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 60_000 });
      samples.push(await sample(pid, startedAt));
    }
    const verdict = judgeSoak(samples, options, brokers.get(1).running());
    return { minutes: options.minutes, peerRestarts, roundsGbps, samples, ...verdict, ok: verdict.problems.length === 0 };
  } finally {
    await brokers.stopAll();
    await lab.destroy();
  }
}
