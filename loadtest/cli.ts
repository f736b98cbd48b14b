#!/usr/bin/env node
// kubelink-lab: the multi-cluster lab on this machine, as a tool.
//
//   node dist/loadtest/cli.js up [--clusters N] [--workers W] [--prefix P] [--keep-on-failure] [--same-service-cidr]
//   node dist/loadtest/cli.js status [--prefix P] [--json]
//   node dist/loadtest/cli.js kubectl [--prefix P] <cluster> <kubectl args...>
//   node dist/loadtest/cli.js loadtest ...        (see `loadtest --help`)
//   node dist/loadtest/cli.js profile ...         (see `profile --help`)
//   node dist/loadtest/cli.js scale --peers N ...   (see `scale --help`)
//   node dist/loadtest/cli.js fuzz [--frames N] [--seed S]   (see `fuzz --help`)
//   node dist/loadtest/cli.js down [--prefix P | --all]
//   node dist/loadtest/cli.js demo [--keep]       (also: node dist/loadtest/demo.js)
//
// Needs root, /dev/net/tun, `ip netns`, iptables, iperf3 and kubectl; says what is missing.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isLogLevel, type LogLevel } from '../src/shared/log.js';
import { MAX_WORKERS } from '../src/main/flags.js';
import { runToolMain } from './tool/entry.js';
import { runDemo, DEMO_USAGE, parseDemoArgs } from './tool/demo-command.js';
import { runDown } from './tool/down-command.js';
import { runKubectl } from './tool/kubectl-command.js';
import { LOADTEST_USAGE, parseLoadtestArgs, runLoadtest } from './tool/load-command.js';
import { PROFILE_USAGE, parseProfileArgs, runProfile } from './tool/profile-command.js';
import { Progress } from './tool/progress.js';
import { DEFAULT_LAB_PREFIX } from './tool/session.js';
import { runStatus } from './tool/status-command.js';
import { runUp } from './tool/up-command.js';
import { UsageError, integerOption, prefixOption } from './tool/options.js';
import { SCALE_USAGE, parseScaleArgs, runScale } from './tool/scale-command.js';
import { FUZZ_USAGE, parseFuzzArgs, runFuzzCommand } from './tool/fuzz-command.js';
import { SOAK_USAGE, parseSoakArgs, runSoakCommand } from './tool/soak-command.js';
import { CHAOS_USAGE, parseChaosArgs, runChaosCommand } from './tool/chaos-command.js';

/** The lab tool supports up to 8 clusters (the topology itself has room for 16). */
export const MAX_TOOL_CLUSTERS = 8;

const USAGE = `usage: kubelink-lab <command> [flags]     (node dist/loadtest/cli.js, or npm run lab -- <command>)

commands:
  up        build N clusters (API server, broker, router, echo service each), full mesh of KubeLinks
            applied with kubectl, wait until every link is Up, print how to use it; the lab stays up
  status    clusters, processes and KubeLinks of the labs built here
  kubectl   run kubectl against one lab cluster: kubectl [--prefix P] c1 get klink -o wide
  loadtest  iperf3 between pods of lab clusters (pair or --matrix), table + JSON, brokers' CPU time
  profile   one broker under clinic flame / clinic doctor (or --cpu-prof) while iperf3 drives traffic
  scale     one broker against N simulated peers (a /24 mesh: up to 252): convergence, memory,
            CPU, churn; links-file and API-server modes (see 'scale --help')
  fuzz      a fuzzing peer with a lab certificate sends a seeded hostile frame mix to a broker:
            no forbidden packet may pass, every drop counter must match what was sent
  soak      iperf3 rounds with peer broker restarts for --minutes N; the broker's RSS and fd
            growth against a bound
  chaos     SIGKILL, SIGSTOP, WAN blackhole, API server restart, TLS Secret rotation under
            iperf3 load (Kubernetes-mode lab): seconds until traffic resumes, leftovers
  demo      the README's first command: two clusters, kubectl get klink, wget both ways, iperf3, down
  down      remove a lab (processes, namespaces, files), also after a crash

up flags:
  --clusters N        clusters, 1..${MAX_TOOL_CLUSTERS} (default 2)
  --workers W         --workers of every broker, 1..${MAX_WORKERS} (default ${Math.min(os.availableParallelism(), MAX_WORKERS)}: available parallelism)
  --prefix P          lab name, prefix of every namespace (default ${DEFAULT_LAB_PREFIX})
  --keep-on-failure   leave a lab that did not come up in place, for inspection
  --same-service-cidr every cluster gets 100.64.0.0/20 (echo at 100.64.0.10 in each); KubeLinks
                      without cidr: publish services with MeshServices and list them in egress
  --timeout SEC       how long the links may take to be Up (default 60)
  --log-level LEVEL   of the brokers, routers and the lab log (default info)
status flags:   [--prefix P] [--json]     (default: every lab built by this tool)
down flags:     [--prefix P] (default ${DEFAULT_LAB_PREFIX}) | --all (every lab under /run/kubelink-lab)
Run '<command> --help' for loadtest, profile, scale, fuzz, soak, chaos and demo.`;

function parseUp(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      clusters: { type: 'string', default: '2' },
      workers: { type: 'string', default: String(Math.min(os.availableParallelism(), MAX_WORKERS)) },
      prefix: { type: 'string', default: DEFAULT_LAB_PREFIX },
      'keep-on-failure': { type: 'boolean', default: false },
      'same-service-cidr': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '60' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  const logLevel = values['log-level']!;
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level ${logLevel}: expected debug, info, warn or error`);
  return {
    clusters: integerOption('clusters', values.clusters!, 1, MAX_TOOL_CLUSTERS),
    workers: integerOption('workers', values.workers!, 1, MAX_WORKERS),
    prefix: prefixOption(values.prefix!),
    keepOnFailure: values['keep-on-failure']!,
    sameServiceCidr: values['same-service-cidr']!,
    readyTimeoutMs: integerOption('timeout', values.timeout!, 5, 3600) * 1000,
    logLevel: logLevel as LogLevel,
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const progress = new Progress();
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case 'up':
      if (wantsHelp) break;
      return runUp(parseUp(rest), progress);
    case 'status': {
      if (wantsHelp) break;
      const { values } = parseArgs({ args: rest, options: { prefix: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
      return runStatus(values.prefix === undefined ? undefined : prefixOption(values.prefix), values.json!, progress);
    }
    case 'down': {
      if (wantsHelp) break;
      const { values } = parseArgs({ args: rest, options: { prefix: { type: 'string' }, all: { type: 'boolean', default: false } }, strict: true });
      if (values.all && values.prefix !== undefined) throw new UsageError('down: give --prefix or --all, not both');
      return runDown(values.all ? { all: true } : { prefix: prefixOption(values.prefix ?? DEFAULT_LAB_PREFIX) }, progress);
    }
    case 'kubectl': {
      let prefix = DEFAULT_LAB_PREFIX;
      let args = rest;
      if (args[0] === '--prefix') {
        prefix = prefixOption(args[1] ?? '');
        args = args.slice(2);
      } else if (args[0]?.startsWith('--prefix=')) {
        prefix = prefixOption(args[0].slice('--prefix='.length));
        args = args.slice(1);
      }
      return runKubectl(prefix, args[0], args.slice(1), progress);
    }
    case 'loadtest':
      if (wantsHelp) {
        progress.print(LOADTEST_USAGE);
        return 0;
      }
      return runLoadtest(parseLoadtestArgs(rest), progress);
    case 'profile':
      if (wantsHelp) {
        progress.print(PROFILE_USAGE);
        return 0;
      }
      return runProfile(parseProfileArgs(rest), progress);
    case 'scale':
      if (wantsHelp) {
        progress.print(SCALE_USAGE);
        return 0;
      }
      return runScale(parseScaleArgs(rest), progress);
    case 'fuzz':
      if (wantsHelp) {
        progress.print(FUZZ_USAGE);
        return 0;
      }
      return runFuzzCommand(parseFuzzArgs(rest), progress);
    case 'soak':
      if (wantsHelp) {
        progress.print(SOAK_USAGE);
        return 0;
      }
      return runSoakCommand(parseSoakArgs(rest), progress);
    case 'chaos':
      if (wantsHelp) {
        progress.print(CHAOS_USAGE);
        return 0;
      }
      return runChaosCommand(parseChaosArgs(rest), progress);
    case 'demo':
      if (wantsHelp) {
        progress.print(DEMO_USAGE);
        return 0;
      }
      return runDemo(parseDemoArgs(rest), progress);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      progress.print(USAGE);
      return command === undefined ? 2 : 0;
    default:
      progress.print(`kubelink-lab: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
  progress.print(USAGE);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) runToolMain(main, process.argv.slice(2));
