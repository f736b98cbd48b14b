// `kubelink-lab soak --minutes N [--max-rss-growth-mb M] [--max-fd-growth F] [--json]`:
// loadtest/soak/soak-run.ts on a fresh lab; prints the samples and the growth, exits 1
// when a bound is exceeded.
import { parseArgs } from 'node:util';
import { runSoak, type SoakOptions } from '../soak/soak-run.js';
import { UsageError, integerOption, prefixOption } from './options.js';
import type { Progress } from './progress.js';

export const SOAK_USAGE = `usage: kubelink-lab soak --minutes N [--max-rss-growth-mb M] [--max-fd-growth F] [--prefix P] [--json]

Two brokers on a fresh lab: rounds of iperf3 (10 s, cluster 1 -> cluster 2), each followed
by a restart of cluster 2's broker, for N minutes. Cluster 1's broker's RSS and open fds are
sampled after each round; the growth from the first sample to the settled end (median of
the last three) must stay within the bounds.

  --minutes N             1..600 (required)
  --max-rss-growth-mb M   default 30
  --max-fd-growth F       default 4
  --prefix P              lab name (default klsoak)`;

export function parseSoakArgs(argv: string[]): SoakOptions & { json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' }, 'max-rss-growth-mb': { type: 'string' }, 'max-fd-growth': { type: 'string' },
      prefix: { type: 'string' }, json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.minutes === undefined) throw new UsageError('soak: --minutes N is required');
  return {
    minutes: integerOption('minutes', values.minutes, 1, 600),
    maxRssGrowthMb: values['max-rss-growth-mb'] === undefined ? undefined : integerOption('max-rss-growth-mb', values['max-rss-growth-mb'], 1, 10_000),
    maxFdGrowth: values['max-fd-growth'] === undefined ? undefined : integerOption('max-fd-growth', values['max-fd-growth'], 0, 100_000),
    prefix: prefixOption(values.prefix ?? 'klsoak'),
    json: values.json!,
  };
}

export async function runSoakCommand(options: SoakOptions & { json: boolean }, progress: Progress): Promise<number> {
  progress.print(`soak: ${options.minutes} min, lab ${options.prefix}`);
  const report = await runSoak(options);
  if (options.json) progress.print(JSON.stringify(report));
  else {
    for (const s of report.samples) progress.print(`  t=${s.atSec}s rss ${s.rssMb} MB fds ${s.fds}`);
    progress.print(`peer restarts ${report.peerRestarts}, iperf3 rounds (Gbit/s) ${report.roundsGbps.join(' ')}`);
    progress.print(`growth: RSS ${report.rssGrowthMb} MB, fds ${report.fdGrowth}`);
    progress.print(report.ok ? 'soak: within bounds' : `soak: FAILED: ${report.problems.join('; ')}`);
  }
  return report.ok ? 0 : 1;
}
