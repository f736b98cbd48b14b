// `kubelink-lab profile` (`npm run profile`): one broker of a two-cluster lab runs under a
// profiler while iperf3 drives traffic through it; it is stopped with SIGINT (what Ctrl-C
// sends, so clinic writes its report), and the reports' paths are printed.
//   flame     clinic flame: where the MAIN thread spends CPU (control plane, fd hand-off, timers)
//   doctor    clinic doctor: event-loop delay, CPU, memory and handles of the main thread
//   cpu-prof  node --cpu-prof: one profile per thread, so the TUN threads and the shard
//             workers (the data plane) are seen too; summarized here per thread
// Each tool gets a fresh lab (about 5 s to build), so one tool's overhead never skews another.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MAX_WORKERS } from '../../src/main/flags.js';
import { describeError } from '../lab/error-text.js';
import { runIperf } from '../lab/iperf.js';
import { repoRoot } from '../lab/repo-root.js';
import type { LabCluster } from '../lab/topology.js';
import { formatThreadProfiles, summarizeProfileDir } from './cpuprofile-summary.js';
import { formatThreadCpu, startThreadCpuSample } from './process-cpu.js';
import { newMeshLab, onInterrupt, startMesh } from './mesh.js';
import { integerOption, prefixOption, UsageError } from './options.js';
import type { Progress } from './progress.js';
import { EXIT_MISSING_PREREQUISITES, reportMissingPrerequisites } from './up-command.js';

export type ProfileTool = 'flame' | 'doctor' | 'cpu-prof';
const TOOLS: readonly ProfileTool[] = ['flame', 'doctor', 'cpu-prof'];

export const PROFILE_USAGE = `usage: kubelink-lab profile [flags]       (npm run profile -- [flags])
  --tool LIST        flame, doctor, cpu-prof, comma-separated (default flame,doctor)
  --cluster C        whose broker is profiled: c2 receives the iperf3 traffic (default), c1 sends it
  --duration SEC     iperf3 seconds while profiling (default 10)
  --streams N        iperf3 parallel streams (default 4)
  --reverse          iperf3 -R: c2 sends, c1 receives
  --workers W        brokers' --workers (default: available parallelism)
  --out DIR          where reports go (default .clinic/ in the repository)
  --prefix P         lab name (default kl<random>)
Reports: clinic writes <out>/<pid>.clinic-<tool>.html (open in a browser); cpu-prof writes
<out>/cpu-prof-<time>/*.cpuprofile (open in Chrome DevTools > Performance, or VS Code) and prints
a per-thread summary. Runs offline: clinic's usage reporting and update check are switched off.`;

export interface ProfileOptions {
  tools: ProfileTool[];
  cluster: string;
  durationSec: number;
  streams: number;
  reverse: boolean;
  workers: number;
  outDir: string;
  prefix: string;
}

export function parseProfileArgs(argv: string[]): ProfileOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      tool: { type: 'string', default: 'flame,doctor' },
      cluster: { type: 'string', default: 'c2' },
      duration: { type: 'string', default: '10' },
      streams: { type: 'string', default: '4' },
      reverse: { type: 'boolean', default: false },
      workers: { type: 'string', default: String(Math.min(os.availableParallelism(), MAX_WORKERS)) },
      out: { type: 'string' },
      prefix: { type: 'string' },
    },
    strict: true,
  });
  const tools = values.tool!.split(',').map((t) => t.trim());
  for (const t of tools) if (!(TOOLS as readonly string[]).includes(t)) throw new UsageError(`--tool ${t}: expected ${TOOLS.join(', ')}`);
  if (values.cluster !== 'c1' && values.cluster !== 'c2') throw new UsageError(`--cluster ${values.cluster}: expected c1 or c2`);
  return {
    tools: [...new Set(tools)] as ProfileTool[],
    cluster: values.cluster,
    durationSec: integerOption('duration', values.duration!, 1, 600),
    streams: integerOption('streams', values.streams!, 1, 128),
    reverse: values.reverse!,
    workers: integerOption('workers', values.workers!, 1, MAX_WORKERS),
    outDir: path.resolve(values.out ?? path.join(repoRoot(), '.clinic')),
    prefix: prefixOption(values.prefix ?? `kl${randomBytes(2).toString('hex')}`),
  };
}

/** clinic of this repository (a devDependency). */
function clinicBin(): string {
  return path.join(repoRoot(), 'node_modules', 'clinic', 'bin.js');
}

/** The broker argv wrapped in the profiler; `dir` receives the output. */
export function profiledArgv(tool: ProfileTool, argv: readonly string[], dir: string): string[] {
  const [node, ...rest] = argv;
  if (tool === 'cpu-prof') return [node!, '--cpu-prof', '--cpu-prof-dir', dir, ...rest];
  // NO_INSIGHT: no usage-statistics prompt or upload; NO_UPDATE_NOTIFIER: no registry check.
  return ['env', 'NO_INSIGHT=1', 'NO_UPDATE_NOTIFIER=1', node!, clinicBin(), tool, '--open=false', '--dest', dir, '--', ...argv];
}

async function newestReport(dir: string, tool: ProfileTool, before: Set<string>): Promise<string | undefined> {
  const files = existsSync(dir) ? await readdir(dir) : [];
  return files.filter((f) => f.endsWith(`.clinic-${tool}.html`) && !before.has(f)).map((f) => path.join(dir, f))[0];
}

const REPORT_WAIT_MS = 180_000;

async function profileOnce(tool: ProfileTool, options: ProfileOptions, progress: Progress): Promise<string> {
  const prefix = options.tools.length > 1 ? `${options.prefix}${options.tools.indexOf(tool)}` : options.prefix;
  const dir = tool === 'cpu-prof' ? path.join(options.outDir, `cpu-prof-${new Date().toISOString().replace(/[:.]/g, '-')}`) : options.outDir;
  await mkdir(dir, { recursive: true });
  const before = new Set(existsSync(dir) ? await readdir(dir) : []);
  // Detached: the profiled broker is a process-group leader, so SIGINT reaches clinic and
  // the broker together, as Ctrl-C in a terminal would.
  const { lab, logFile } = newMeshLab({ prefix, clusters: 2, detach: true, logLevel: 'warn' });
  const removeHandlers = onInterrupt(progress, () => lab.destroy());
  let finished = false;
  try {
    const wrapBroker = (cluster: LabCluster, argv: string[]): string[] => (cluster.name === options.cluster ? profiledArgv(tool, argv, dir) : argv);
    const mesh = await startMesh(lab, logFile, { prefix, clusters: 2, workers: options.workers, progress, detach: true, command: 'profile', logLevel: 'warn', wrapBroker, readyTimeoutMs: 90_000 });
    const profiled = lab.clusters.find((c) => c.name === options.cluster)!;
    const broker = mesh.path.broker(profiled.index)!;
    progress.step(`${tool}: broker of ${profiled.name} runs under ${tool === 'cpu-prof' ? 'node --cpu-prof' : `clinic ${tool}`} (pid ${broker.pid}); iperf3 c1 ${options.reverse ? '<-' : '->'} c2, ${options.streams} streams, ${options.durationSec} s`);
    // The profiles' "busy" counts wall time in native calls too (a TUN thread blocked in
    // poll() looks busy); the kernel's per-thread CPU time says where the CPU really went.
    const threadSample = startThreadCpuSample(broker.pid);
    const startedMs = Date.now();
    const result = await runIperf(lab, lab.cluster(1).pods.client2, lab.cluster(2).serviceIp, { durationSec: options.durationSec, streams: options.streams, reverse: options.reverse });
    const threadCpu = formatThreadCpu(threadSample.stop(), (Date.now() - startedMs) / 1000);
    progress.step(`${tool}: iperf3 ${(result.bitsPerSecond / 1e9).toFixed(2)} Gbit/s while profiled`);
    // Under clinic the recorded pid is clinic's own process, not the broker's.
    if (tool === 'cpu-prof') progress.print(threadCpu);
    progress.step(`${tool}: SIGINT to the broker's process group; waiting for ${tool === 'cpu-prof' ? 'the profiles' : 'clinic\'s analysis (up to a minute or two)'}`);
    process.kill(-broker.pid, 'SIGINT');
    const exit = await Promise.race([broker.exited, sleep(REPORT_WAIT_MS).then(() => undefined)]);
    if (!exit) throw new Error(`${tool} did not finish within ${REPORT_WAIT_MS / 1000} s; see ${broker.logFile}`);
    if (tool === 'cpu-prof') {
      const threads = await summarizeProfileDir(dir);
      if (threads.length === 0) throw new Error(`no .cpuprofile in ${dir}; see ${broker.logFile}`);
      progress.print(formatThreadProfiles(threads));
      finished = true;
      return dir;
    }
    const report = await newestReport(dir, tool, before);
    if (!report) throw new Error(`clinic ${tool} wrote no HTML report into ${dir} (exit ${JSON.stringify(exit)}); see ${broker.logFile}`);
    finished = true;
    return report;
  } finally {
    removeHandlers();
    // A failed run keeps the lab's logs (the broker's log has clinic's output).
    await lab.destroy({ keepWorkDir: !finished });
  }
}

export async function runProfile(options: ProfileOptions, progress: Progress): Promise<number> {
  if (await reportMissingPrerequisites(progress)) return EXIT_MISSING_PREREQUISITES;
  if (!existsSync(clinicBin()) && options.tools.some((t) => t !== 'cpu-prof')) {
    progress.print(`clinic is not installed (${clinicBin()}): run bash scripts/install-deps.sh (it is a devDependency)`);
    return EXIT_MISSING_PREREQUISITES;
  }
  const reports: string[] = [];
  for (const tool of options.tools) {
    try {
      reports.push(`${tool.padEnd(8)} ${await profileOnce(tool, options, progress)}`);
    } catch (error) {
      progress.step(`${tool}: FAILED: ${describeError(error)}`);
      return 1;
    }
  }
  progress.print(`\nReports (see README "Profiling" for how to read them):\n${reports.map((r) => `  ${r}`).join('\n')}`);
  return 0;
}
