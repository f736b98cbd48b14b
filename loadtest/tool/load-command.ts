// `kubelink-lab loadtest`: iperf3 between pods of lab clusters through kubelink.
//
// Pair mode: one client cluster (--from) sends to the echo pod behind another cluster's
// service IP (--to), TCP or UDP, with --streams, --duration, --bitrate, --reverse.
// Matrix mode: for every --workers value (brokers restarted), every --peers count (that
// many client clusters c2..c<p+1> send at once to c1, each to its own iperf3 server) and
// every --streams value, one run; the table shows how throughput scales with workers and
// peers, and what CPU each broker used (utime+stime from /proc, all its threads).
// Without --lab the command builds a lab of its own and removes it at the end.

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { MAX_WORKERS } from '../../src/main/flags.js';
import { describeError } from '../lab/error-text.js';
import { runIperf, type IperfOptions, type IperfResult } from '../lab/iperf.js';
import { Lab } from '../lab/lab.js';
import { describeMachine } from '../lab/machine.js';
import type { LabCluster } from '../lab/topology.js';
import { formatLoadTable, formatScaling, type LoadCell, type LoadReport, type LoadRow } from './load-report.js';
import { newMeshLab, onInterrupt, startMesh, type Mesh } from './mesh.js';
import { integerListOption, integerOption, prefixOption, UsageError } from './options.js';
import { labProcesses } from './process-roles.js';
import { startCpuSample } from './process-cpu.js';
import type { Progress } from './progress.js';
import { readSession } from './session.js';
import { reportExistingLab, reportMissingPrerequisites, EXIT_MISSING_PREREQUISITES } from './up-command.js';

/** iperf3 servers of load tests listen here and up (one per concurrent client), apart from the lab's own 5201. */
export const LOADTEST_BASE_PORT = 5301;
const MAX_PEERS = 7;

export const LOADTEST_USAGE = `usage: kubelink-lab loadtest [flags]            iperf3 through kubelink between lab clusters
pair mode (default):
  --lab P            use the running lab P (from \`up\`); default: build a lab for this run, remove it after
  --from C --to C    client and server cluster (default c1 -> c2)
  --workers W        brokers' --workers when the command builds the lab (default: available parallelism)
matrix mode (--matrix; always builds its own lab with max(--peers)+1 clusters, server c1):
  --workers LIST     e.g. 1,2: brokers restarted with each value (default 1,<available parallelism>)
  --peers LIST       e.g. 1,2,3: that many client clusters send to c1 at once (default 1,2,3)
  --streams LIST     e.g. 1,4 (default 1,4)
both:
  --streams N        parallel streams per client (-P, default 1)
  --duration SEC     seconds per run (default 10 in pair mode, 5 in matrix mode)
  --udp              UDP instead of TCP; --bitrate is then per stream (default 500M)
  --bitrate RATE     iperf3 -b, e.g. 1G
  --reverse          server sends, client receives (-R)
  --json FILE        write the results as JSON too
  --prefix P         name of the lab the command builds (default kl<random>)`;

export interface LoadtestOptions {
  lab?: string;
  matrix: boolean;
  from: string;
  to: string;
  workers: number[];
  peers: number[];
  streams: number[];
  durationSec: number;
  udp: boolean;
  bitrate?: string;
  reverse: boolean;
  jsonFile?: string;
  prefix: string;
}

export function parseLoadtestArgs(argv: string[]): LoadtestOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      lab: { type: 'string' },
      matrix: { type: 'boolean', default: false },
      from: { type: 'string', default: 'c1' },
      to: { type: 'string', default: 'c2' },
      workers: { type: 'string' },
      peers: { type: 'string', default: '1,2,3' },
      streams: { type: 'string' },
      duration: { type: 'string' },
      udp: { type: 'boolean', default: false },
      bitrate: { type: 'string' },
      reverse: { type: 'boolean', default: false },
      json: { type: 'string' },
      prefix: { type: 'string' },
    },
    strict: true,
  });
  const nproc = Math.min(os.availableParallelism(), MAX_WORKERS);
  const matrix = values.matrix!;
  if (matrix && values.lab !== undefined) throw new UsageError('--matrix builds its own lab (it restarts brokers); drop --lab');
  const cluster = (flag: string, text: string): string => {
    if (!/^c[1-8]$/.test(text)) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a cluster name c1..c8`);
    return text;
  };
  const workers = integerListOption('workers', values.workers ?? (matrix ? [...new Set([1, nproc])].join(',') : String(nproc)), 1, MAX_WORKERS);
  const streams = integerListOption('streams', values.streams ?? (matrix ? '1,4' : '1'), 1, 128);
  if (!matrix && (workers.length > 1 || streams.length > 1)) throw new UsageError('lists for --workers and --streams need --matrix');
  const from = cluster('from', values.from!);
  const to = cluster('to', values.to!);
  if (from === to) throw new UsageError('--from and --to must name different clusters');
  if (values.bitrate !== undefined && !/^\d+(\.\d+)?[KMG]?$/.test(values.bitrate)) throw new UsageError(`--bitrate ${values.bitrate}: expected e.g. 500M or 1G`);
  return {
    lab: values.lab === undefined ? undefined : prefixOption(values.lab),
    matrix,
    from,
    to,
    workers,
    peers: integerListOption('peers', values.peers!, 1, MAX_PEERS).sort((a, b) => a - b),
    streams,
    durationSec: integerOption('duration', values.duration ?? (matrix ? '5' : '10'), 1, 600),
    udp: values.udp!,
    bitrate: values.bitrate ?? (values.udp ? '500M' : undefined),
    reverse: values.reverse!,
    jsonFile: values.json,
    prefix: prefixOption(values.prefix ?? `kl${randomBytes(2).toString('hex')}`),
  };
}

/** CPU seconds of the lab's brokers are sampled by cluster name. */
async function brokerPids(prefix: string): Promise<Map<string, number>> {
  const processes = await labProcesses(prefix);
  return new Map(processes.filter((p) => p.role === 'broker' && p.alive).map((p) => [p.cluster, p.pid]));
}

const ATTEMPTS_PER_CELL = 2;

/** One cell: every client cluster runs iperf3 at once against its own server port in `server`. */
async function runCell(lab: Lab, cell: LoadCell, clients: readonly LabCluster[], server: LabCluster, options: LoadtestOptions): Promise<LoadRow> {
  const ports = clients.map((_, k) => LOADTEST_BASE_PORT + k);
  const iperf = (port: number): IperfOptions => ({
    port,
    durationSec: cell.durationSec,
    streams: cell.streams,
    reverse: cell.reverse,
    udp: options.udp,
    bitrate: options.bitrate,
  });
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS_PER_CELL; attempt++) {
    await lab.ensureIperfServers(server.index, ports);
    const pids = await brokerPids(lab.prefix);
    const sample = startCpuSample(pids);
    const startedMs = Date.now();
    const settled = await Promise.allSettled(clients.map((c, k) => runIperf(lab, c.pods.client2, server.serviceIp, iperf(ports[k]!))));
    const wallSec = (Date.now() - startedMs) / 1000;
    const cpu = sample.stop();
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      lastError = failed.reason;
      // A server whose client vanished answers "busy" for a long time: start fresh ones.
      for (const port of ports) await lab.restartIperfServer(server.index, port);
      continue;
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<IperfResult>).value);
    const brokerCpuSec = Object.fromEntries([...cpu].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
    return {
      ...cell,
      totalGbps: results.reduce((sum, r) => sum + r.bitsPerSecond, 0) / 1e9,
      perPeerGbps: results.map((r) => r.bitsPerSecond / 1e9),
      retransmits: results.reduce((sum, r) => sum + r.retransmits, 0),
      lostPercent: options.udp ? results.reduce((sum, r) => sum + (r.lostPercent ?? 0), 0) / results.length : undefined,
      brokerCpuSec,
      brokerCpuPercent: Object.fromEntries(Object.entries(brokerCpuSec).map(([c, sec]) => [c, (100 * sec) / cell.durationSec])),
      wallSec,
    };
  }
  return { ...cell, perPeerGbps: [], retransmits: 0, brokerCpuSec: {}, brokerCpuPercent: {}, wallSec: 0, failure: describeError(lastError) };
}

function cellLine(row: LoadRow): string {
  if (row.totalGbps === undefined) return `workers ${row.workers}, peers ${row.peers}, streams ${row.streams}: FAILED ${row.failure}`;
  const cpu = Object.entries(row.brokerCpuPercent).map(([c, p]) => `${c} ${p.toFixed(0)}%`).join(' ');
  return `workers ${row.workers}, peers ${row.peers}, streams ${row.streams}, ${row.direction}: ${row.totalGbps.toFixed(2)} Gbit/s; broker CPU ${cpu}`;
}

async function pairRows(lab: Lab, workers: number, options: LoadtestOptions, progress: Progress): Promise<LoadRow[]> {
  const from = lab.clusters.find((c) => c.name === options.from);
  const to = lab.clusters.find((c) => c.name === options.to);
  if (!from || !to) throw new UsageError(`lab ${lab.prefix} has clusters c1..c${lab.clusters.length}; --from ${options.from} --to ${options.to} do not fit`);
  const cell: LoadCell = {
    workers,
    peers: 1,
    streams: options.streams[0]!,
    protocol: options.udp ? 'udp' : 'tcp',
    reverse: options.reverse,
    direction: options.reverse ? `${to.name} -> ${from.name} (-R)` : `${from.name} -> ${to.name}`,
    durationSec: options.durationSec,
  };
  progress.step(`iperf3 ${cell.protocol} ${cell.direction}: ${cell.streams} stream(s), ${cell.durationSec} s${options.bitrate ? `, ${options.bitrate}/stream` : ''}`);
  const row = await runCell(lab, cell, [from], to, options);
  progress.step(cellLine(row));
  await lab.stopIperfServers(to.index, [LOADTEST_BASE_PORT]);
  return [row];
}

async function matrixRows(mesh: Mesh, options: LoadtestOptions, progress: Progress): Promise<LoadRow[]> {
  const { lab } = mesh;
  const server = lab.cluster(1);
  const rows: LoadRow[] = [];
  for (const [i, workers] of options.workers.entries()) {
    if (i > 0) {
      progress.step(`restarting every broker with --workers ${workers}`);
      await mesh.path.restartBrokers(workers);
    }
    for (const peers of options.peers) {
      const clients = lab.clusters.slice(1, 1 + peers);
      for (const streams of options.streams) {
        const cell: LoadCell = {
          workers,
          peers,
          streams,
          protocol: options.udp ? 'udp' : 'tcp',
          reverse: options.reverse,
          direction: `${clients.map((c) => c.name).join(',')} ${options.reverse ? '<-' : '->'} ${server.name}`,
          durationSec: options.durationSec,
        };
        const row = await runCell(lab, cell, clients, server, options);
        progress.step(cellLine(row));
        rows.push(row);
      }
    }
  }
  await lab.stopIperfServers(server.index, options.peers.map((_, k) => LOADTEST_BASE_PORT + k));
  return rows;
}

async function writeReport(rows: LoadRow[], options: LoadtestOptions, progress: Progress, argv: string): Promise<void> {
  progress.print();
  progress.print(formatLoadTable(rows));
  const scaling = formatScaling(rows);
  if (scaling) progress.print('\n' + scaling);
  progress.print('CPU: utime+stime of each broker process (all threads) during the run, in % of one core, and per Gbit carried in total.');
  if (options.jsonFile) {
    const report: LoadReport = { kind: options.matrix ? 'matrix' : 'pair', date: new Date().toISOString(), machine: await describeMachine(), command: argv, rows };
    await writeFile(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    progress.step(`results written to ${options.jsonFile}`);
  }
}

export async function runLoadtest(options: LoadtestOptions, progress: Progress, argv = process.argv.slice(2).join(' ')): Promise<number> {
  if (await reportMissingPrerequisites(progress)) return EXIT_MISSING_PREREQUISITES;
  if (options.lab !== undefined) {
    const session = await readSession(options.lab);
    const lab = await Lab.attach(options.lab);
    const rows = await pairRows(lab, session?.workers ?? 0, options, progress);
    await writeReport(rows, options, progress, argv);
    return rows.every((r) => r.totalGbps !== undefined) ? 0 : 1;
  }
  if (await reportExistingLab(options.prefix, progress)) return 1;
  const clusters = options.matrix ? Math.max(...options.peers) + 1 : Math.max(2, Number(options.from.slice(1)), Number(options.to.slice(1)));
  const cells = options.matrix ? options.workers.length * options.peers.length * options.streams.length : 1;
  progress.step(`load test: ${cells} run(s) of ${options.durationSec} s on a lab of ${clusters} clusters (about ${Math.ceil((cells * (options.durationSec + 3) + 10 * options.workers.length + 15) / 60)} min)`);
  const { lab, logFile } = newMeshLab({ prefix: options.prefix, clusters, detach: false });
  const removeHandlers = onInterrupt(progress, () => lab.destroy());
  try {
    const mesh = await startMesh(lab, logFile, { prefix: options.prefix, clusters, workers: options.workers[0]!, progress, detach: false, command: 'loadtest', logLevel: 'warn' });
    const rows = options.matrix ? await matrixRows(mesh, options, progress) : await pairRows(lab, options.workers[0]!, options, progress);
    await writeReport(rows, options, progress, argv);
    return rows.every((r) => r.totalGbps !== undefined) ? 0 : 1;
  } catch (error) {
    progress.step(`FAILED: ${describeError(error)} (logs in ${lab.workDir})`);
    await lab.destroy({ keepWorkDir: true });
    return 1;
  } finally {
    removeHandlers();
    if (!lab.isDestroyed()) {
      progress.step(`removing lab ${lab.prefix}`);
      await lab.destroy();
    }
  }
}
