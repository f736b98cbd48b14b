// `kubelink-lab demo` (the README's first command, through ./demo.sh): two clusters on this
// machine, `kubectl get klink` in both, `wget -O - <service IP>` from a pod of cluster 1
// to the echo service of cluster 2 and back, `wget` by its mesh name
// (echo.default.svc.c2.kubelink), a short iperf3 figure, then the lab is
// removed again (`--keep` leaves it up). Bounded in time; always cleans up on failure.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { MAX_WORKERS } from '../../src/main/flags.js';
import { runCommand } from '../lab/command.js';
import type { EchoReply } from '../lab/echo-server.js';
import { describeError } from '../lab/error-text.js';
import { iperfClientArgs, runIperf } from '../lab/iperf.js';
import type { Lab } from '../lab/lab.js';
import { MESH_DOMAIN, type LabCluster } from '../lab/topology.js';
import { newMeshLab, onInterrupt, startMesh } from './mesh.js';
import { integerOption, prefixOption } from './options.js';
import type { Progress } from './progress.js';
import { clusterTable, usageHints } from './summary.js';
import { EXIT_MISSING_PREREQUISITES, reportExistingLab, reportMissingPrerequisites } from './up-command.js';

export const DEMO_PREFIX = 'kldemo';

export const DEMO_USAGE = `usage: ./demo.sh [flags]      (or: node dist/loadtest/cli.js demo [flags], as root)
  --keep          leave the two clusters up at the end and print how to use kubectl and the pods
  --workers W     brokers' --workers (default: available parallelism)
  --iperf SEC     seconds of the iperf3 run (default 5)
  --timeout SEC   give up (and clean up) after this long (default 300)
  --prefix P      lab name (default ${DEMO_PREFIX})`;

export interface DemoOptions {
  keep: boolean;
  workers: number;
  iperfSec: number;
  timeoutSec: number;
  prefix: string;
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      keep: { type: 'boolean', default: false },
      workers: { type: 'string', default: String(Math.min(os.availableParallelism(), MAX_WORKERS)) },
      iperf: { type: 'string', default: '5' },
      timeout: { type: 'string', default: '300' },
      prefix: { type: 'string', default: DEMO_PREFIX },
    },
    strict: true,
  });
  return {
    keep: values.keep!,
    workers: integerOption('workers', values.workers!, 1, MAX_WORKERS),
    iperfSec: integerOption('iperf', values.iperf!, 1, 60),
    timeoutSec: integerOption('timeout', values.timeout!, 30, 3600),
    prefix: prefixOption(values.prefix!),
  };
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((line) => `    ${line}`).join('\n');
}

/** Shows one command as a prompt naming where it runs, then its output. */
async function show(progress: Progress, where: string, shown: string, run: () => Promise<string>): Promise<string> {
  progress.print(`\n  ${where}$ ${shown}`);
  const output = await run();
  progress.print(indent(output));
  return output;
}

async function showLinks(lab: Lab, cluster: LabCluster, progress: Progress): Promise<void> {
  for (const args of [['get', 'klink'], ['get', 'klink', '-o', 'wide']]) {
    await show(progress, cluster.name, `kubectl ${args.join(' ')}`, async () => (await lab.kubectl(cluster.index, args)).stdout);
  }
}

/** The echo service of `to` by its name across the mesh. */
export function meshEchoName(to: LabCluster): string {
  return `echo.default.svc.${to.name}.${MESH_DOMAIN}`;
}

/** wget from a pod of `from` to the echo service of `to` (by IP, or by name); says who answered and from which address. */
async function wgetEcho(lab: Lab, from: LabCluster, to: LabCluster, progress: Progress, haveWget: boolean, host = to.serviceIp): Promise<void> {
  const pod = from.pods.client2;
  const url = `http://${host}/`;
  const body = await show(progress, `${from.name}/${pod.name}`, haveWget ? `wget -q -T 5 -O - ${url}` : `(lab HTTP probe; wget is not installed) GET ${url}`, async () =>
    haveWget ? (await lab.exec(pod.ns, ['wget', '-q', '-T', '5', '-O', '-', url])).stdout : lab.httpGet(pod.ns, url, 5000),
  );
  const reply = JSON.parse(body) as EchoReply;
  if (reply.cluster !== to.name) throw new Error(`expected ${to.name}'s echo service to answer, got ${reply.cluster}`);
  progress.print(`    -> answered by ${reply.cluster}'s echo pod; the request arrived from ${reply.client}, ${from.name}'s cluster address (SNAT by ${from.name}'s broker)`);
}

async function hasWget(): Promise<boolean> {
  return runCommand(['wget', '--version']).then(
    () => true,
    () => false,
  );
}

export async function runDemo(options: DemoOptions, progress: Progress): Promise<number> {
  progress.print('kubelink demo: two Kubernetes-like clusters on this machine (network namespaces), each with an API server,');
  progress.print('the kubelink broker and router, and an echo service; joined by KubeLinks applied with kubectl.\n');
  if (await reportMissingPrerequisites(progress)) return EXIT_MISSING_PREREQUISITES;
  if (await reportExistingLab(options.prefix, progress)) return 1;
  const { lab, logFile } = newMeshLab({ prefix: options.prefix, clusters: 2, detach: options.keep });
  const removeHandlers = onInterrupt(progress, () => lab.destroy());
  const watchdog = setTimeout(() => {
    progress.step(`the demo took longer than ${options.timeoutSec} s; removing the lab`);
    void lab.destroy({ keepWorkDir: true }).finally(() => process.exit(1));
  }, options.timeoutSec * 1000);
  watchdog.unref();
  let ok = false;
  try {
    await startMesh(lab, logFile, { prefix: options.prefix, clusters: 2, workers: options.workers, progress, detach: options.keep, command: 'demo' });
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    progress.step('every KubeLink is Up. What kubectl says in each cluster:');
    await showLinks(lab, c1, progress);
    await showLinks(lab, c2, progress);
    progress.print();
    progress.step(`a pod of ${c1.name} asks the echo service of ${c2.name} (${c2.serviceIp}), and back:`);
    const haveWget = await hasWget();
    await wgetEcho(lab, c1, c2, progress, haveWget);
    await wgetEcho(lab, c2, c1, progress, haveWget);
    progress.print();
    progress.step(`by name: the pod's resolver asks ${c1.name}'s cluster DNS, which forwards ${MESH_DOMAIN}. to ${c1.name}'s broker, which asks ${c2.name}'s cluster DNS through the tunnel:`);
    await wgetEcho(lab, c1, c2, progress, haveWget, meshEchoName(c2));
    progress.print();
    progress.step(`iperf3 TCP for ${options.iperfSec} s from a ${c1.name} pod to ${c2.name}'s service IP, through both brokers:`);
    const argv = iperfClientArgs(c2.serviceIp, { durationSec: options.iperfSec }).filter((a) => a !== '-J');
    const result = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: options.iperfSec });
    progress.print(`\n  ${c1.name}/client2$ ${argv.join(' ')}`);
    progress.print(`    ${(result.bitsPerSecond / 1e9).toFixed(2)} Gbit/s received, ${result.retransmits} TCP retransmits (one stream, TLS 1.3, --workers ${options.workers})\n`);
    ok = true;
  } catch (error) {
    progress.step(`FAILED: ${describeError(error)}`);
    progress.step(`logs: ${lab.workDir} (kept)`);
  } finally {
    clearTimeout(watchdog);
    removeHandlers();
  }
  if (ok && options.keep) {
    progress.step(`the lab stays up (--keep):\n`);
    progress.print(clusterTable(lab));
    progress.print();
    progress.print(usageHints(lab));
    return 0;
  }
  progress.step(`removing the lab ${lab.prefix}`);
  await lab.destroy({ keepWorkDir: !ok });
  progress.step(ok ? 'demo done: everything removed' : 'demo failed');
  return ok ? 0 : 1;
}
