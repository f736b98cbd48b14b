// `kubelink-lab fuzz [--frames N] [--seed S] [--prefix P] [--json]`: runs the fuzzing peer
// against a broker on a fresh two-cluster lab (loadtest/fuzz/fuzz-run.ts) and prints the
// summary; exits 1 when a check failed. The same seed sends the same frames.
import { parseArgs } from 'node:util';
import { runFuzz, type FuzzOptions } from '../fuzz/fuzz-run.js';
import { integerOption, prefixOption } from './options.js';
import type { Progress } from './progress.js';

export const FUZZ_USAGE = `usage: kubelink-lab fuzz [--frames N] [--seed S] [--prefix P] [--json]

A fuzzing peer with cluster 2's lab certificate does the hello with cluster 1's broker and
sends a seeded mix of hostile frames: spoofed sources, foreign destinations, IPv6, empty,
unknown types (absurd offload frames among them), truncated and lying IPv4 headers, and
good packets. Checks that no forbidden packet leaves the TUN (iptables counters at the
gateway) and that each drop counter grew by exactly what was sent of its kind.

  --frames N   frames to send, 1..1000000 (default 20000)
  --seed S     generator seed (default 1)
  --prefix P   lab name (default klfz)
  --json       print the report as JSON`;

export function parseFuzzArgs(argv: string[]): FuzzOptions & { json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: { frames: { type: 'string' }, seed: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  return {
    frames: values.frames === undefined ? 20_000 : integerOption('frames', values.frames, 1, 1_000_000),
    seed: values.seed === undefined ? 1 : integerOption('seed', values.seed, 0, 0xffffffff),
    prefix: prefixOption(values.prefix ?? 'klfz'),
    json: values.json!,
  };
}

export async function runFuzzCommand(options: FuzzOptions & { json: boolean }, progress: Progress): Promise<number> {
  progress.print(`fuzz: ${options.frames} frames, seed ${options.seed}, lab ${options.prefix}`);
  const report = await runFuzz(options);
  if (options.json) progress.print(JSON.stringify(report));
  else {
    progress.print(`frames sent ${report.framesSent}: ${Object.entries(report.sent).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    progress.print(`counted by the broker: ${Object.entries(report.counted).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    progress.print(`left the TUN: allowed ${report.passedAtTun} (ring-full drops ${report.ringFullDrops}), forbidden ${report.forbiddenPassed}`);
    progress.print(report.ok ? 'fuzz: every check held' : `fuzz: FAILED: ${report.problems.join('; ')}`);
  }
  return report.ok ? 0 : 1;
}
