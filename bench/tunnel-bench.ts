// Macro benchmark: iperf3 from a pod of lab cluster 1 to cluster 2's service IP, side by
// side in ONE run on the same namespaces, through
//   raw          no tunnel (routing + SNAT/DNAT only): the ceiling of the kernel
//   tls          no tunnel either: two Node processes in the two gateway namespaces stream
//                TLS 1.3 with 64 KiB writes over the same WAN: the ceiling of Node here
//   openvpn      OpenVPN 2.6, TCP mode, AES-256-GCM, 1500 MTU TUN
//   kubelink-wN  kubelink brokers with --workers N (-nooffload: --tun-offload=false;
//                +VARIANT: the flags, Node binary or build given by --variant VARIANT=...)
// For every path and stream count: median Gbit/s of several runs, ratios to raw and tls,
// CPU core-seconds per Gbit carried of each side (brokers: utime+stime of the process, all
// threads, from /proc; tls: each process's own), TCP retransmits and data-plane drops per
// GB, and ping p50/p99 through the path while the multi-stream runs load it (and idle).
// UDP rows: iperf3 -u at --udp-bitrate offered with 1400-byte datagrams, delivered and loss.
// The tables are printed and appended to bench/RESULTS.md with the date, the machine and
// the load average.
//
//   node dist/bench/tunnel-bench.js [--duration 5] [--runs 5] [--streams 1,4]
//        [--paths raw,tls,kubelink] [--udp-bitrate 1G | --no-udp] [--variant NAME=SPEC]...
//        [--from-pod client2] [--results PATH | --no-results]
//
// Needs root (network namespaces). A path that fails to come up is reported as failed
// with the reason; the others are still measured.

import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, isLogLevel, type LogLevel } from '../src/shared/log.js';
import { CONFIG_DEFAULTS } from '../src/main/flags.js';
import { runIperf, type IperfOptions, type IperfResult } from '../loadtest/lab/iperf.js';
import { describeError as describeErrorChain } from '../loadtest/lab/error-text.js';
import { Lab } from '../loadtest/lab/lab.js';
import { describeMachine } from '../loadtest/lab/machine.js';
import { repoRoot } from '../loadtest/lab/repo-root.js';
import { percentile, runPing, type PingResult } from '../loadtest/lab/ping.js';
import { fetchBrokerMetrics, metricSum, metricValue } from '../loadtest/lab/broker-metrics.js';
import { TlsPath } from '../loadtest/lab/tls-path.js';
import { cpuSeconds } from '../loadtest/tool/process-cpu.js';
import type { LabPath } from '../loadtest/lab/lab-path.js';
import { KubelinkPath } from '../loadtest/lab/kubelink-path.js';
import type { LabPod, PodName } from '../loadtest/lab/topology.js';

/** How a `+NAME` kubelink variant differs: broker flags, another Node binary, another build. */
export interface Variant {
  extraArgs: string[];
  nodeBinary?: string;
  entry?: string;
}

export interface BenchOptions {
  durationSec: number;
  runs: number;
  streams: number[];
  /** raw, tls, openvpn, kubelink-w<N>[-nooffload][+variant]. */
  paths: string[];
  variants: Record<string, Variant>;
  /** iperf3 -b of the UDP rows; undefined = no UDP rows. */
  udpBitrate: string | undefined;
  fromPod: PodName;
  /** Where the table is appended; undefined = don't write. */
  resultsFile: string | undefined;
  logLevel: LogLevel;
}

/** Ping percentiles of one series, milliseconds. */
export interface Latency {
  p50?: number;
  p99?: number;
  lossPercent: number;
}

/** One cell of the table: a path at one stream count (TCP) or the UDP row (streams 1). */
export interface Measurement {
  path: string;
  protocol: 'tcp' | 'udp';
  streams: number;
  /** Gbit/s of each run (receiver side); empty when the path failed. */
  runsGbps: number[];
  medianGbps?: number;
  /** Core-seconds per Gbit carried, sending side and receiving side (median over runs); undefined where no process is ours (raw). */
  cpuPerGbit?: { tx: number; rx: number };
  retransmitsPerGB?: number;
  /** Data-plane drops per GB carried: ring-full and all reasons (kubelink only). */
  ringDropsPerGB?: number;
  dropsPerGB?: number;
  /** UDP: iperf3's loss, percent (median over runs). */
  lossPercent?: number;
  /** UDP: what the iperf3 client managed to send, Gbit/s (median): below the offered rate when the sender is CPU-bound. */
  sentGbps?: number;
  /** Ping through the path during the runs (multi-stream TCP cells). */
  loaded?: Latency;
  failure?: string;
}

export interface PathLatency {
  path: string;
  idle?: Latency;
}

const USAGE = `usage: tunnel-bench [--duration SEC] [--runs N] [--streams LIST] [--paths LIST]
                    [--udp-bitrate RATE | --no-udp] [--variant NAME=SPEC]...
                    [--from-pod client1|client2] [--results PATH | --no-results] [--log-level LEVEL]
  --duration     seconds per run (default 5)
  --runs         runs per cell; the median is reported (default 5)
  --streams      comma list of parallel stream counts (default 1,4)
  --paths        comma list of raw, tls, openvpn, kubelink (= kubelink-w1 and kubelink-w<nproc>),
                 kubelink-w<N>, kubelink-w<N>-nooffload (brokers with --tun-offload=false),
                 any of these kubelink paths with +NAME (a --variant) (default raw,tls,kubelink)
  --udp-bitrate  offered rate of the UDP rows, iperf3 syntax (default 1G)
  --no-udp       no UDP rows
  --variant      NAME=SPEC: SPEC is broker flags separated by spaces; node=PATH runs the
                 brokers with another Node binary, entry=PATH with another build's cli.js,
                 e.g. --variant 'aes=--tls-ciphers TLS_AES_128_GCM_SHA256'
  --from-pod     client2 (pod on the second node, default) or client1 (pod on the gateway node)
  --results      file the markdown tables are appended to (default bench/RESULTS.md of the repo)
  --no-results   print only
  --log-level    lab log level on stderr (default warn)`;

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} ${text}: expected a positive integer`);
  return value;
}

/** kubelink-w<workers>, optionally with the TUN offloads switched off, optionally a variant. */
const KUBELINK_PATH = /^kubelink-w([1-9]\d*)(-nooffload)?(?:\+([\w.-]+))?$/;

/** Expands `kubelink` into kubelink-w1 and kubelink-w<nproc>, validates names, drops duplicates. */
export function expandPaths(list: string, parallelism: number, variants: Record<string, Variant> = {}): string[] {
  const out: string[] = [];
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const expanded = name === 'kubelink' ? ['kubelink-w1', `kubelink-w${parallelism}`] : [name];
    for (const p of expanded) {
      const kubelink = KUBELINK_PATH.exec(p);
      if (p !== 'raw' && p !== 'openvpn' && p !== 'tls' && !kubelink) {
        throw new Error(`--paths ${list}: unknown path ${JSON.stringify(name)}; expected raw, tls, openvpn, kubelink, kubelink-w<N>, kubelink-w<N>-nooffload, each kubelink one optionally +VARIANT`);
      }
      if (kubelink?.[3] !== undefined && variants[kubelink[3]] === undefined) {
        throw new Error(`--paths ${list}: path ${p} names variant ${kubelink[3]}, but no --variant ${kubelink[3]}=... was given`);
      }
      if (!out.includes(p)) out.push(p);
    }
  }
  if (out.length === 0) throw new Error('--paths: empty list');
  return out;
}

/** Parses `NAME=SPEC` (see USAGE). */
export function parseVariant(text: string): [string, Variant] {
  const match = /^([\w.-]+)=(.*)$/s.exec(text);
  if (!match) throw new Error(`--variant ${text}: expected NAME=SPEC, e.g. aes=--tls-ciphers TLS_AES_128_GCM_SHA256`);
  const variant: Variant = { extraArgs: [] };
  for (const token of match[2]!.split(/\s+/).filter(Boolean)) {
    if (token.startsWith('node=')) variant.nodeBinary = token.slice('node='.length);
    else if (token.startsWith('entry=')) variant.entry = token.slice('entry='.length);
    else variant.extraArgs.push(token);
  }
  for (const file of [variant.nodeBinary, variant.entry]) {
    if (file !== undefined && !existsSync(file)) throw new Error(`--variant ${text}: ${file} does not exist`);
  }
  return [match[1]!, variant];
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      runs: { type: 'string', default: '5' },
      streams: { type: 'string', default: '1,4' },
      paths: { type: 'string', default: 'raw,tls,kubelink' },
      'udp-bitrate': { type: 'string', default: '1G' },
      'no-udp': { type: 'boolean', default: false },
      variant: { type: 'string', multiple: true, default: [] },
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
  const udpBitrate = values['udp-bitrate']!;
  if (!/^\d+(\.\d+)?[KMG]?$/.test(udpBitrate)) throw new Error(`--udp-bitrate ${udpBitrate}: expected e.g. 500M or 1G`);
  const variants = Object.fromEntries(values.variant!.map(parseVariant));
  return {
    durationSec: positiveInteger('duration', values.duration!),
    runs: positiveInteger('runs', values.runs!),
    streams: values.streams!.split(',').map((s) => positiveInteger('streams', s.trim())),
    paths: expandPaths(values.paths!, os.availableParallelism(), variants),
    variants,
    udpBitrate: values['no-udp'] ? undefined : udpBitrate,
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

function createPath(lab: Lab, name: string, options: BenchOptions): LabPath {
  if (name === 'raw') return lab.rawPath([lab.cluster(1), lab.cluster(2)]);
  if (name === 'openvpn') return lab.openVpnPath(2, 1);
  // The brokers' default cipher preference, so tls and kubelink do the same crypto.
  if (name === 'tls') return new TlsPath(lab, lab.cluster(1), lab.cluster(2), CONFIG_DEFAULTS.tlsCiphers);
  const [, workers, noOffload, variantName] = KUBELINK_PATH.exec(name)!;
  const variant = variantName === undefined ? undefined : options.variants[variantName]!;
  return lab.kubelinkPath({
    name: name.replace('+', '-'),
    workers: Number(workers),
    clusters: [lab.cluster(1), lab.cluster(2)],
    extraArgs: [...(noOffload ? ['--tun-offload=false'] : []), ...(variant?.extraArgs ?? [])],
    nodeBinary: variant?.nodeBinary,
    entry: variant?.entry,
  });
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
/** Ping starts this long after the load, so it measures the loaded queue, not the ramp. */
const PING_LOAD_DELAY_MS = 1000;

/** What one run measured. */
interface RunResult {
  gbps: number;
  /** Sender side (UDP: what left the client). */
  sentGbps?: number;
  /** CPU seconds of the sending and receiving side, when the path has processes of ours. */
  cpuSec?: { tx: number; rx: number };
  retransmits: number;
  lostPercent?: number;
  ping?: PingResult;
}

/** Drop counters of both brokers (kubelink paths). */
interface DropCount {
  ringFull: number;
  all: number;
}

/** The brokers of a kubelink path (sender c1 first), else undefined. */
function brokerPids(benchPath: LabPath): { tx: number; rx: number } | undefined {
  if (!(benchPath instanceof KubelinkPath)) return undefined;
  const [tx, rx] = benchPath.processes;
  return tx && rx ? { tx: tx.pid, rx: rx.pid } : undefined;
}

async function brokerDrops(lab: Lab): Promise<DropCount> {
  const texts = await Promise.all([lab.cluster(1), lab.cluster(2)].map((c) => fetchBrokerMetrics(lab, c)));
  return {
    ringFull: texts.reduce((sum, t) => sum + metricValue(t, 'kubelink_dropped_packets_total', { reason: 'ring-full' }), 0),
    all: texts.reduce((sum, t) => sum + metricSum(t, 'kubelink_dropped_packets_total'), 0),
  };
}

function latencyOf(ping: PingResult): Latency {
  return {
    p50: percentile(ping.rttsMs, 50),
    p99: percentile(ping.rttsMs, 99),
    lossPercent: ping.sent > 0 ? (100 * (ping.sent - ping.rttsMs.length)) / ping.sent : 100,
  };
}

/** One iperf3 run (retried with a fresh iperf3 server when it fails), with CPU and ping beside it. */
async function iperfRun(lab: Lab, benchPath: LabPath, from: LabPod, target: string, iperf: IperfOptions, withPing: boolean, label: string): Promise<RunResult> {
  const pids = brokerPids(benchPath);
  for (let attempt = 1; ; attempt++) {
    try {
      const before = pids && { tx: cpuSeconds(pids.tx) ?? 0, rx: cpuSeconds(pids.rx) ?? 0 };
      const pinging = withPing
        ? sleep(PING_LOAD_DELAY_MS).then(() => runPing(lab, from, target, { durationSec: Math.max(1, iperf.durationSec - 2) }))
        : undefined;
      const [r, ping]: [IperfResult, PingResult | undefined] = await Promise.all([runIperf(lab, from, target, iperf), pinging]);
      const cpuSec = pids && before && { tx: (cpuSeconds(pids.tx) ?? before.tx) - before.tx, rx: (cpuSeconds(pids.rx) ?? before.rx) - before.rx };
      const gbps = r.bitsPerSecond / 1e9;
      const extra = r.lostPercent !== undefined ? `${r.lostPercent.toFixed(2)} % lost` : `${r.retransmits} retransmits`;
      process.stderr.write(`tunnel-bench: ${label}: ${gbps.toFixed(2)} Gbit/s, ${extra}${ping ? `, ping p99 ${percentile(ping.rttsMs, 99)?.toFixed(2) ?? '-'} ms` : ''}\n`);
      return { gbps, sentGbps: r.sentBitsPerSecond / 1e9, cpuSec, retransmits: r.retransmits, lostPercent: r.lostPercent, ping };
    } catch (error) {
      process.stderr.write(`tunnel-bench: ${label}: attempt ${attempt} failed: ${describeError(error)}\n`);
      if (attempt >= ATTEMPTS_PER_RUN) throw error;
      await lab.restartIperfServer(2);
    }
  }
}

async function tlsRun(benchPath: TlsPath, durationSec: number, streams: number, label: string): Promise<RunResult> {
  const report = await benchPath.measure({ durationSec, streams });
  const gbps = report.bitsPerSecond / 1e9;
  process.stderr.write(`tunnel-bench: ${label}: ${gbps.toFixed(2)} Gbit/s (${report.protocol} ${report.cipher})\n`);
  return { gbps, cpuSec: { tx: report.senderCpuSec, rx: report.receiverCpuSec }, retransmits: 0 };
}

/** Reduces the runs of one cell to its row. */
export function summarizeCell(path: string, protocol: 'tcp' | 'udp', streams: number, durationSec: number, runs: readonly RunResult[], drops?: DropCount): Measurement {
  const runsGbps = runs.map((r) => r.gbps);
  const medianGbps = median(runsGbps);
  const gigabytes = runs.reduce((sum, r) => sum + (r.gbps * durationSec) / 8, 0);
  const cell: Measurement = { path, protocol, streams, runsGbps, medianGbps };
  const withCpu = runs.filter((r) => r.cpuSec !== undefined && r.gbps > 0);
  if (withCpu.length > 0) {
    cell.cpuPerGbit = {
      tx: median(withCpu.map((r) => r.cpuSec!.tx / (r.gbps * durationSec))),
      rx: median(withCpu.map((r) => r.cpuSec!.rx / (r.gbps * durationSec))),
    };
  }
  if (protocol === 'tcp' && gigabytes > 0) cell.retransmitsPerGB = runs.reduce((sum, r) => sum + r.retransmits, 0) / gigabytes;
  if (drops && gigabytes > 0) {
    cell.ringDropsPerGB = drops.ringFull / gigabytes;
    cell.dropsPerGB = drops.all / gigabytes;
  }
  const lost = runs.map((r) => r.lostPercent).filter((l): l is number => l !== undefined);
  if (lost.length > 0) cell.lossPercent = median(lost);
  const sent = runs.map((r) => r.sentGbps).filter((g): g is number => g !== undefined);
  if (protocol === 'udp' && sent.length > 0) cell.sentGbps = median(sent);
  const pings = runs.map((r) => r.ping).filter((p): p is PingResult => p !== undefined);
  if (pings.length > 0) {
    const latencies = pings.map((p) => latencyOf(p));
    const p50s = latencies.map((l) => l.p50).filter((v): v is number => v !== undefined);
    const p99s = latencies.map((l) => l.p99).filter((v): v is number => v !== undefined);
    cell.loaded = {
      p50: p50s.length > 0 ? median(p50s) : undefined,
      p99: p99s.length > 0 ? median(p99s) : undefined,
      lossPercent: median(latencies.map((l) => l.lossPercent)),
    };
  }
  return cell;
}

interface PathResults {
  cells: Measurement[];
  latency: PathLatency;
}

/** Brings `name` up, measures every stream count (and UDP), brings it down; failures become table entries. */
async function measurePath(lab: Lab, name: string, options: BenchOptions): Promise<PathResults> {
  const benchPath = createPath(lab, name, options);
  const from = lab.cluster(1).pods[options.fromPod];
  const target = lab.cluster(2).serviceIp;
  const udp = options.udpBitrate !== undefined && name !== 'tls';
  const failAll = (failure: string): PathResults => ({
    cells: [
      ...options.streams.map((streams): Measurement => ({ path: name, protocol: 'tcp', streams, runsGbps: [], failure })),
      ...(udp ? [{ path: name, protocol: 'udp', streams: 1, runsGbps: [], failure } satisfies Measurement] : []),
    ],
    latency: { path: name },
  });
  process.stderr.write(`tunnel-bench: ${name}: bringing up\n`);
  try {
    try {
      await benchPath.up();
      if (!(benchPath instanceof TlsPath)) await lab.waitForEcho(from, target, lab.cluster(2).name, { timeoutMs: 10_000 });
    } catch (error) {
      const failure = describeError(error);
      process.stderr.write(`tunnel-bench: ${name}: failed to come up: ${failure}\n`);
      for (const p of (benchPath as Partial<KubelinkPath>).processes ?? []) {
        process.stderr.write(`--- last lines of ${p.logFile} ---\n${await logTail(p.logFile, 20)}\n`);
      }
      return failAll(failure);
    }
    const kubelink = brokerPids(benchPath) !== undefined;
    const latency: PathLatency = { path: name };
    if (!(benchPath instanceof TlsPath)) {
      latency.idle = latencyOf(await runPing(lab, from, target, { durationSec: options.durationSec }));
    }
    const cells: Measurement[] = [];
    const measureCell = async (protocol: 'tcp' | 'udp', streams: number): Promise<void> => {
      try {
        const dropsBefore = kubelink ? await brokerDrops(lab) : undefined;
        const runs: RunResult[] = [];
        for (let run = 1; run <= options.runs; run++) {
          const label = `${name}: ${protocol === 'udp' ? `udp ${options.udpBitrate}` : `${streams} stream(s)`}, run ${run}`;
          if (benchPath instanceof TlsPath) runs.push(await tlsRun(benchPath, options.durationSec, streams, label));
          else {
            const iperf: IperfOptions = protocol === 'udp'
              ? { durationSec: options.durationSec, streams: 1, udp: true, bitrate: options.udpBitrate, lengthBytes: UDP_DATAGRAM_BYTES }
              : { durationSec: options.durationSec, streams };
            runs.push(await iperfRun(lab, benchPath, from, target, iperf, protocol === 'tcp' && streams > 1, label));
          }
        }
        let drops: DropCount | undefined;
        if (dropsBefore) {
          const after = await brokerDrops(lab);
          drops = { ringFull: after.ringFull - dropsBefore.ringFull, all: after.all - dropsBefore.all };
        }
        cells.push(summarizeCell(name, protocol, streams, options.durationSec, runs, drops));
      } catch (error) {
        const failure = describeError(error);
        process.stderr.write(`tunnel-bench: ${name}: ${protocol} ${streams} stream(s) failed: ${failure}\n`);
        cells.push({ path: name, protocol, streams, runsGbps: [], failure });
      }
    };
    for (const streams of options.streams) await measureCell('tcp', streams);
    if (udp) await measureCell('udp', 1);
    return { cells, latency };
  } finally {
    await benchPath.down().catch((error: unknown) => process.stderr.write(`tunnel-bench: ${name}: down failed: ${describeError(error)}\n`));
  }
}

/** Datagram size of the UDP rows (fits a 1500-byte MTU with the tunnel's own headers outside). */
export const UDP_DATAGRAM_BYTES = 1400;

function ratio(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined || base === 0) return '–';
  return `${(value / base).toFixed(2)}x`;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? '–' : value.toFixed(digits);
}

function latencyText(latency: Latency | undefined): string {
  if (latency === undefined) return '–';
  const loss = latency.lossPercent > 0 ? `, ${latency.lossPercent.toFixed(1)} % lost` : '';
  return `${fixed(latency.p50, 2)} / ${fixed(latency.p99, 2)}${loss}`;
}

export function formatTable(measurements: readonly Measurement[]): string {
  const baseline = (pathName: string, streams: number): number | undefined =>
    measurements.find((m) => m.protocol === 'tcp' && m.path === pathName && m.streams === streams)?.medianGbps;
  const rows = [
    '| path | streams | Gbit/s (median) | runs (Gbit/s) | vs raw | vs tls | core-s/Gbit tx / rx | retr/GB | ring-full drops/GB | drops/GB | ping p50 / p99 ms under load |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of measurements.filter((c) => c.protocol === 'tcp')) {
    if (m.medianGbps === undefined) {
      rows.push(`| ${m.path} | ${m.streams} | failed | ${m.failure ?? 'no result'} | – | – | – | – | – | – | – |`);
      continue;
    }
    const cpu = m.cpuPerGbit ? `${m.cpuPerGbit.tx.toFixed(3)} / ${m.cpuPerGbit.rx.toFixed(3)}` : '–';
    rows.push(
      `| ${m.path} | ${m.streams} | ${m.medianGbps.toFixed(2)} | ${m.runsGbps.map((g) => g.toFixed(2)).join(' / ')} | ` +
        `${ratio(m.medianGbps, baseline('raw', m.streams))} | ${ratio(m.medianGbps, baseline('tls', m.streams))} | ${cpu} | ` +
        `${fixed(m.retransmitsPerGB, 0)} | ${fixed(m.ringDropsPerGB, 0)} | ${fixed(m.dropsPerGB, 0)} | ${latencyText(m.loaded)} |`,
    );
  }
  return rows.join('\n');
}

export function formatUdpTable(measurements: readonly Measurement[], bitrate: string): string {
  const rows = [
    `| path | offered | sent Gbit/s | delivered Gbit/s (median) | runs (Gbit/s) | loss % (median) | core-s/Gbit tx / rx | drops/GB |`,
    '|---|---:|---:|---:|---|---:|---:|---:|',
  ];
  for (const m of measurements.filter((c) => c.protocol === 'udp')) {
    if (m.medianGbps === undefined) {
      rows.push(`| ${m.path} | ${bitrate} | – | failed | ${m.failure ?? 'no result'} | – | – | – |`);
      continue;
    }
    const cpu = m.cpuPerGbit ? `${m.cpuPerGbit.tx.toFixed(3)} / ${m.cpuPerGbit.rx.toFixed(3)}` : '–';
    rows.push(`| ${m.path} | ${bitrate} | ${fixed(m.sentGbps, 2)} | ${m.medianGbps.toFixed(2)} | ${m.runsGbps.map((g) => g.toFixed(2)).join(' / ')} | ${fixed(m.lossPercent, 2)} | ${cpu} | ${fixed(m.dropsPerGB, 0)} |`);
  }
  return rows.join('\n');
}

export function formatLatencyTable(latencies: readonly PathLatency[], measurements: readonly Measurement[]): string {
  const rows = ['| path | idle p50 / p99 ms | loaded streams | loaded p50 / p99 ms | loaded p99 - idle p50 |', '|---|---:|---:|---:|---:|'];
  for (const l of latencies) {
    if (l.idle === undefined) continue;
    const loaded = measurements.filter((m) => m.path === l.path && m.protocol === 'tcp' && m.loaded !== undefined).pop();
    const added = loaded?.loaded?.p99 !== undefined && l.idle.p50 !== undefined ? `${(loaded.loaded.p99 - l.idle.p50).toFixed(2)} ms` : '–';
    rows.push(`| ${l.path} | ${latencyText(l.idle)} | ${loaded?.streams ?? '–'} | ${latencyText(loaded?.loaded)} | ${added} |`);
  }
  return rows.join('\n');
}

export function formatReport(measurements: readonly Measurement[], latencies: readonly PathLatency[], options: BenchOptions, machine: string, date: Date, command: string): string {
  const from = options.fromPod === 'client2' ? 'pod on node 2 (routed via the gateway node)' : 'pod on the gateway node';
  const variants = Object.entries(options.variants).map(([name, v]) =>
    `\`+${name}\`: ${[v.extraArgs.join(' '), v.nodeBinary && `node ${v.nodeBinary}`, v.entry && `build ${v.entry}`].filter(Boolean).join('; ')}`);
  const parts = [
    `## Tunnel benchmark, ${date.toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    '',
    `Machine: ${machine}`,
    '',
    `iperf3 TCP from a cluster-1 ${from} to cluster 2's service IP; ${options.durationSec} s per run; ` +
      `median of ${options.runs} run(s). tls: Node TLS 1.3, 64 KiB writes, gateway to gateway, the brokers' default cipher order (${CONFIG_DEFAULTS.tlsCiphers.split(':')[0]} first). ` +
      `CPU: core-seconds per Gbit carried, sending (c1) / receiving (c2) broker, all threads, from /proc. ` +
      `Ping (every 20 ms, from the same pod to the same service IP) runs during the multi-stream runs.`,
    ...(variants.length > 0 ? [`Variants: ${variants.join('; ')}.`] : []),
    `Command: \`${command}\``,
    '',
    formatTable(measurements),
    '',
  ];
  if (latencies.some((l) => l.idle !== undefined)) parts.push(formatLatencyTable(latencies, measurements), '');
  if (measurements.some((m) => m.protocol === 'udp')) parts.push(`UDP: iperf3 -u, one stream, ${UDP_DATAGRAM_BYTES}-byte datagrams.`, '', formatUdpTable(measurements, options.udpBitrate ?? ''), '');
  return parts.join('\n');
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
  const latencies: PathLatency[] = [];
  // Other work on the machine skews every path; the report shows how busy it was.
  const loadBefore = os.loadavg()[0]!;
  try {
    process.stderr.write(`tunnel-bench: lab ${lab.prefix}: creating\n`);
    await lab.create();
    for (const name of options.paths) {
      const results = await measurePath(lab, name, options);
      measurements.push(...results.cells);
      latencies.push(results.latency);
    }
  } finally {
    await lab.destroy();
  }
  const command = `node dist/bench/tunnel-bench.js ${process.argv.slice(2).map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`.trim();
  const load = `1-min load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after the run`;
  const report = formatReport(measurements, latencies, options, `${await describeMachine()}; ${load}`, new Date(), command);
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
