// Macro benchmark: iperf3 TCP from a pod of lab cluster 1 to cluster 2's service IP, side
// by side in ONE run on the same namespaces, through
//   raw          no tunnel (routing + SNAT/DNAT only): the ceiling
//   openvpn      OpenVPN 2.6, TCP mode, AES-256-GCM, 1500 MTU TUN: the peer to beat
//   kubelink-wN  kubelink brokers with --workers N
// Median of several runs per path and stream count; ratios against raw and OpenVPN; the
// table is printed and appended to bench/RESULTS.md with the date and the machine.
//
//   node dist/bench/tunnel-bench.js [--duration 10] [--runs 3] [--streams 1,4]
//        [--paths raw,openvpn,kubelink] [--from-pod client2] [--results PATH | --no-results]
//
// Needs root (network namespaces). A path that fails to come up is reported as failed
// with the reason; the others are still measured.

import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger, isLogLevel, type LogLevel } from '../src/shared/log.js';
import { runIperf, type IperfOptions } from '../loadtest/lab/iperf.js';
import { describeError as describeErrorChain } from '../loadtest/lab/error-text.js';
import { Lab } from '../loadtest/lab/lab.js';
import { describeMachine } from '../loadtest/lab/machine.js';
import { repoRoot } from '../loadtest/lab/repo-root.js';
import type { LabPath } from '../loadtest/lab/lab-path.js';
import type { KubelinkPath } from '../loadtest/lab/kubelink-path.js';
import type { LabPod, PodName } from '../loadtest/lab/topology.js';

export interface BenchOptions {
  durationSec: number;
  runs: number;
  streams: number[];
  /** raw, openvpn, kubelink-w<N>. */
  paths: string[];
  fromPod: PodName;
  /** Where the table is appended; undefined = don't write. */
  resultsFile: string | undefined;
  logLevel: LogLevel;
}

/** One cell of the table: a path at one stream count. */
export interface Measurement {
  path: string;
  streams: number;
  /** Gbit/s of each run (receiver side); empty when the path failed. */
  runsGbps: number[];
  medianGbps?: number;
  failure?: string;
}

const USAGE = `usage: tunnel-bench [--duration SEC] [--runs N] [--streams LIST] [--paths LIST]
                    [--from-pod client1|client2] [--results PATH | --no-results] [--log-level LEVEL]
  --duration   seconds per iperf3 run (default 10)
  --runs       runs per cell; the median is reported (default 3)
  --streams    comma list of parallel stream counts (default 1,4)
  --paths      comma list of raw, openvpn, kubelink (= kubelink-w1 and kubelink-w<nproc>),
               kubelink-w<N>, kubelink-w<N>-nooffload (brokers with --tun-offload=false)
               (default raw,openvpn,kubelink)
  --from-pod   client2 (pod on the second node, default) or client1 (pod on the gateway node)
  --results    file the markdown table is appended to (default bench/RESULTS.md of the repo)
  --no-results print only
  --log-level  lab log level on stderr (default warn)`;


function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} ${text}: expected a positive integer`);
  return value;
}

/** kubelink-w<workers>, optionally with the TUN offloads switched off. */
const KUBELINK_PATH = /^kubelink-w([1-9]\d*)(-nooffload)?$/;

/** Expands `kubelink` into kubelink-w1 and kubelink-w<nproc>, validates names, drops duplicates. */
export function expandPaths(list: string, parallelism: number): string[] {
  const out: string[] = [];
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const expanded = name === 'kubelink' ? ['kubelink-w1', `kubelink-w${parallelism}`] : [name];
    for (const p of expanded) {
      if (p !== 'raw' && p !== 'openvpn' && !KUBELINK_PATH.test(p)) {
        throw new Error(`--paths ${list}: unknown path ${JSON.stringify(name)}; expected raw, openvpn, kubelink, kubelink-w<N> or kubelink-w<N>-nooffload`);
      }
      if (!out.includes(p)) out.push(p);
    }
  }
  if (out.length === 0) throw new Error('--paths: empty list');
  return out;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      runs: { type: 'string', default: '3' },
      streams: { type: 'string', default: '1,4' },
      paths: { type: 'string', default: 'raw,openvpn,kubelink' },
      'from-pod': { type: 'string', default: 'client2' },
      results: { type: 'string' },
      'no-results': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const fromPod = values['from-pod']!;
  if (fromPod !== 'client1' && fromPod !== 'client2') throw new Error(`--from-pod ${fromPod}: expected client1 or client2`);
  const logLevel = values['log-level']!;
  if (!isLogLevel(logLevel)) throw new Error(`--log-level ${logLevel}: expected debug, info, warn or error`);
  return {
    durationSec: positiveInteger('duration', values.duration!),
    runs: positiveInteger('runs', values.runs!),
    streams: values.streams!.split(',').map((s) => positiveInteger('streams', s.trim())),
    paths: expandPaths(values.paths!, os.availableParallelism()),
    fromPod,
    resultsFile: values['no-results'] ? undefined : (values.results ?? path.join(repoRoot(), 'bench', 'RESULTS.md')),
    logLevel,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** An error on one line, safe inside a markdown table cell. */
function describeError(error: unknown): string {
  return describeErrorChain(error).replace(/\|/g, '/');
}

function createPath(lab: Lab, name: string): LabPath {
  if (name === 'raw') return lab.rawPath([lab.cluster(1), lab.cluster(2)]);
  if (name === 'openvpn') return lab.openVpnPath(2, 1);
  const [, workers, noOffload] = KUBELINK_PATH.exec(name)!;
  return lab.kubelinkPath({ workers: Number(workers), clusters: [lab.cluster(1), lab.cluster(2)], extraArgs: noOffload ? ['--tun-offload=false'] : [] });
}

async function logTail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const RESULTS_HEADER = `# Benchmark results

Appended by \`node dist/bench/tunnel-bench.js\` (see its --help); newest last. Numbers from
a shared 2-vCPU VM vary from run to run; compare paths within one entry, not across entries.
`;

/** Attempts per run: a run that fails (e.g. iperf3's control connection reset) is retried. */
const ATTEMPTS_PER_RUN = 3;

/** One iperf3 run in Gbit/s, retried with a fresh iperf3 server when it fails. */
async function measureRun(lab: Lab, from: LabPod, target: string, iperf: IperfOptions, label: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await runIperf(lab, from, target, iperf);
      const gbps = r.bitsPerSecond / 1e9;
      process.stderr.write(`tunnel-bench: ${label}: ${gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits\n`);
      return gbps;
    } catch (error) {
      process.stderr.write(`tunnel-bench: ${label}: attempt ${attempt} failed: ${describeError(error)}\n`);
      if (attempt >= ATTEMPTS_PER_RUN) throw error;
      await lab.restartIperfServer(2);
    }
  }
}

/** Brings `name` up, measures every stream count, brings it down; failures become table entries. */
async function measurePath(lab: Lab, name: string, options: BenchOptions): Promise<Measurement[]> {
  const benchPath = createPath(lab, name);
  const from = lab.cluster(1).pods[options.fromPod];
  const target = lab.cluster(2).serviceIp;
  const failAll = (failure: string): Measurement[] => options.streams.map((streams) => ({ path: name, streams, runsGbps: [], failure }));
  process.stderr.write(`tunnel-bench: ${name}: bringing up\n`);
  try {
    try {
      await benchPath.up();
      await lab.waitForEcho(from, target, lab.cluster(2).name, { timeoutMs: 10_000 });
    } catch (error) {
      const failure = describeError(error);
      process.stderr.write(`tunnel-bench: ${name}: failed to come up: ${failure}\n`);
      for (const p of (benchPath as Partial<KubelinkPath>).processes ?? []) {
        process.stderr.write(`--- last lines of ${p.logFile} ---\n${await logTail(p.logFile, 20)}\n`);
      }
      return failAll(failure);
    }
    const results: Measurement[] = [];
    for (const streams of options.streams) {
      const cell: Measurement = { path: name, streams, runsGbps: [] };
      try {
        for (let run = 1; run <= options.runs; run++) {
          const gbps = await measureRun(lab, from, target, { durationSec: options.durationSec, streams }, `${name}: ${streams} stream(s), run ${run}`);
          cell.runsGbps.push(gbps);
        }
        cell.medianGbps = median(cell.runsGbps);
      } catch (error) {
        cell.failure = describeError(error);
        process.stderr.write(`tunnel-bench: ${name}: ${streams} stream(s) failed: ${cell.failure}\n`);
      }
      results.push(cell);
    }
    return results;
  } finally {
    await benchPath.down().catch((error: unknown) => process.stderr.write(`tunnel-bench: ${name}: down failed: ${describeError(error)}\n`));
  }
}

function ratio(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined || base === 0) return '–';
  return `${(value / base).toFixed(2)}x`;
}

export function formatTable(measurements: readonly Measurement[]): string {
  const baseline = (pathName: string, streams: number): number | undefined =>
    measurements.find((m) => m.path === pathName && m.streams === streams)?.medianGbps;
  const rows = ['| path | streams | Gbit/s (median) | runs (Gbit/s) | vs raw | vs OpenVPN |', '|---|---:|---:|---|---:|---:|'];
  for (const m of measurements) {
    if (m.medianGbps === undefined) {
      rows.push(`| ${m.path} | ${m.streams} | failed | ${m.failure ?? 'no result'} | – | – |`);
      continue;
    }
    rows.push(
      `| ${m.path} | ${m.streams} | ${m.medianGbps.toFixed(2)} | ${m.runsGbps.map((g) => g.toFixed(2)).join(' / ')} | ` +
        `${ratio(m.medianGbps, baseline('raw', m.streams))} | ${ratio(m.medianGbps, baseline('openvpn', m.streams))} |`,
    );
  }
  return rows.join('\n');
}

export function formatReport(measurements: readonly Measurement[], options: BenchOptions, machine: string, date: Date, command: string): string {
  const from = options.fromPod === 'client2' ? 'pod on node 2 (routed via the gateway node)' : 'pod on the gateway node';
  return [
    `## Tunnel benchmark, ${date.toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    '',
    `Machine: ${machine}`,
    '',
    `iperf3 TCP from a cluster-1 ${from} to cluster 2's service IP; ${options.durationSec} s per run; ` +
      `median of ${options.runs} run(s). OpenVPN: TCP mode, AES-256-GCM, 1500 MTU TUN, DCO off.`,
    `Command: \`${command}\``,
    '',
    formatTable(measurements),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`tunnel-bench: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: options.logLevel });
  const lab = new Lab({ clusters: 2, log });
  const onSignal = (): void => {
    process.stderr.write('tunnel-bench: interrupted, removing the lab\n');
    void lab.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const measurements: Measurement[] = [];
  // Other work on the machine skews every path; the report shows how busy it was.
  const loadBefore = os.loadavg()[0]!;
  try {
    process.stderr.write(`tunnel-bench: lab ${lab.prefix}: creating\n`);
    await lab.create();
    for (const name of options.paths) measurements.push(...(await measurePath(lab, name, options)));
  } finally {
    await lab.destroy();
  }
  const command = `node dist/bench/tunnel-bench.js ${process.argv.slice(2).join(' ')}`.trim();
  const load = `1-min load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after the run`;
  const report = formatReport(measurements, options, `${await describeMachine()}; ${load}`, new Date(), command);
  process.stdout.write('\n' + report);
  if (options.resultsFile) {
    if (!existsSync(options.resultsFile)) await appendFile(options.resultsFile, RESULTS_HEADER);
    await appendFile(options.resultsFile, '\n' + report);
    process.stderr.write(`tunnel-bench: appended to ${options.resultsFile}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    process.stderr.write(`tunnel-bench: ${describeError(error)}\n`);
    process.exit(1);
  });
}
