// Round-trip times through a lab path: `ping` from a pod, reduced to percentiles and loss,
// for the bench's latency columns (idle, and while iperf3 loads the path).

import { CommandError } from './command.js';
import type { Lab } from './lab.js';
import type { LabPod } from './topology.js';

export interface PingOptions {
  /** How long to ping, seconds. */
  durationSec: number;
  /** Between echo requests; default 20 ms (root may go below ping's 200 ms minimum). */
  intervalMs?: number;
}

export interface PingResult {
  sent: number;
  /** Round-trip times of the replies, milliseconds, in arrival order. */
  rttsMs: number[];
}

/** The `p`-th percentile (0..100) of `values`, nearest rank; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** Parses ping's output: the `time=` of each reply and the transmitted count of the summary. */
export function parsePingOutput(text: string): PingResult {
  const rttsMs = [...text.matchAll(/ time[=<]([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(text)?.[1] ?? NaN);
  if (!Number.isFinite(sent)) throw new Error(`ping printed no summary: ${text.slice(-200)}`);
  return { sent, rttsMs };
}

/** Pings `targetIp` from `pod` for `durationSec`. Lost replies are a result, not an error. */
export async function runPing(lab: Lab, pod: LabPod, targetIp: string, options: PingOptions): Promise<PingResult> {
  const interval = ((options.intervalMs ?? 20) / 1000).toFixed(3);
  const argv = ['ping', '-n', '-i', interval, '-w', String(options.durationSec), '-W', '1', targetIp];
  const stdout = await lab.exec(pod.ns, argv, { timeoutMs: (options.durationSec + 10) * 1000 }).then(
    (r) => r.stdout,
    // ping exits 1 when some replies were lost; its output is still the measurement.
    (error: unknown) => {
      if (error instanceof CommandError && /packets transmitted/.test(error.stdout)) return error.stdout;
      throw error;
    },
  );
  return parsePingOutput(stdout);
}
