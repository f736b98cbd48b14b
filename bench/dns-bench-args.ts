// The DNS benchmark's flags, apart from the benchmark so a test can check them without a lab.
import { parseArgs } from 'node:util';
import { integerOption } from '../loadtest/tool/options.js';

export interface DnsBenchOptions { runs: number; count: number; concurrency: number; noResults: boolean }

export const DNS_BENCH_USAGE = `usage: node dist/bench/dns-bench.js [--runs 1..10] [--count 10..5000] [--concurrency 1..128] [--no-results]
  --runs N         runs; medians are reported (default 3)
  --count N        queries per latency run; the qps run sends 4x as many (default 400)
  --concurrency N  queries in flight in the qps run (default 16)
  --no-results     print the table only, do not append it to bench/RESULTS.md`;

export function parseDnsBenchArgs(argv: string[]): DnsBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' }, count: { type: 'string', default: '400' },
      concurrency: { type: 'string', default: '16' }, 'no-results': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  return {
    runs: integerOption('runs', values.runs!, 1, 10),
    count: integerOption('count', values.count!, 10, 5000),
    concurrency: integerOption('concurrency', values.concurrency!, 1, 128),
    noResults: values['no-results']!,
  };
}

