// `kubelink-lab scale`: flags, run, table (and JSON).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { MAX_WORKERS } from '../../src/main/flags.js';
import { DEFAULT_MAX_DIALS_IN_FLIGHT } from '../../src/main/broker/dial-pacer.js';
import { runScaleLab } from '../scale/scale-lab.js';
import { MAX_SCALE_PEERS } from '../scale/scale-plan.js';
import { formatScaleReport, type ScaleMode } from '../scale/scale-report.js';
import { UsageError, integerOption } from './options.js';
import { isLogLevel, type LogLevel } from '../../src/shared/log.js';
import type { Progress } from './progress.js';

export const SCALE_USAGE = `usage: kubelink-lab scale [--peers N] [--mode files|api|both] [flags]

One broker against N simulated peers (one process speaking kubelink's wire protocol for
all of them, each with its own certificate, address and service CIDR, answering ping
through its tunnel). Reports time to all-Up and to all routes, memory and fds per tunnel,
idle CPU, time to detect a silent peer, removing and re-adding half of the links with the
worst ping through an untouched tunnel meanwhile, one route reconcile of N routes, and in
API mode the time until every KubeLink applied with kubectl has status Up.

  --peers N                 1..${MAX_SCALE_PEERS} (default 32)
  --mode M                  files (links from a --links directory), api (KubeLinks through
                            the test API server), both (default)
  --workers W               broker --workers (default available parallelism)
  --max-dials-in-flight N   broker --max-dials-in-flight (default ${DEFAULT_MAX_DIALS_IN_FLIGHT})
  --idle SEC                idle CPU sample length (default 10)
  --timeout SEC             longest wait for any convergence (default 120)
  --json                    print the report as JSON instead of a table
  --keep-logs               keep the work dir (broker, simulator logs)
  --broker-log-level L      the broker's --log-level (default warn; info logs every closed
                            connection with its reason, e.g. to explain a handshake failure)
Needs root, /dev/net/tun, ip, ping and kubectl. Run it alone (flock /work/locks/lab.lock):
it measures time and CPU.`;

export interface ScaleArgs {
  peers: number;
  mode: ScaleMode;
  workers: number;
  maxDialsInFlight: number;
  idleSec: number;
  timeoutSec: number;
  json: boolean;
  keepLogs: boolean;
  brokerLogLevel: LogLevel;
}

export function parseScaleArgs(argv: string[]): ScaleArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      peers: { type: 'string', default: '32' },
      mode: { type: 'string', default: 'both' },
      workers: { type: 'string', default: String(Math.min(os.availableParallelism(), MAX_WORKERS)) },
      'max-dials-in-flight': { type: 'string', default: String(DEFAULT_MAX_DIALS_IN_FLIGHT) },
      idle: { type: 'string', default: '10' },
      timeout: { type: 'string', default: '120' },
      json: { type: 'boolean', default: false },
      'keep-logs': { type: 'boolean', default: false },
      'broker-log-level': { type: 'string', default: 'warn' },
    },
    strict: true,
  });
  const mode = values.mode!;
  if (mode !== 'files' && mode !== 'api' && mode !== 'both') throw new UsageError(`--mode ${mode}: expected files, api or both`);
  const brokerLogLevel = values['broker-log-level']!;
  if (!isLogLevel(brokerLogLevel)) throw new UsageError(`--broker-log-level ${brokerLogLevel}: expected debug, info, warn or error`);
  return {
    peers: integerOption('peers', values.peers!, 1, MAX_SCALE_PEERS),
    mode,
    workers: integerOption('workers', values.workers!, 1, MAX_WORKERS),
    maxDialsInFlight: integerOption('max-dials-in-flight', values['max-dials-in-flight']!, 1, 1024),
    idleSec: integerOption('idle', values.idle!, 1, 600),
    timeoutSec: integerOption('timeout', values.timeout!, 5, 3600),
    json: values.json!,
    keepLogs: values['keep-logs']!,
    brokerLogLevel,
  };
}

export async function runScale(args: ScaleArgs, progress: Progress): Promise<number> {
  const report = await runScaleLab({ ...args, keepWorkDir: args.keepLogs, onProgress: (line) => progress.step(line) });
  progress.print(args.json ? JSON.stringify(report, null, 2) : formatScaleReport(report));
  if (args.keepLogs) progress.print(`logs: ${report.workDir}`);
  return 0;
}
