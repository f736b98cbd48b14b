// `kubelink-lab scale --peers N`: one broker against N simulated peers on this machine.
// Two namespaces, `<prefix>-b` (the broker and the measuring process) and `<prefix>-p`
// (the peer simulator, one address per peer), joined by a veth; nothing leaves them.
// The measuring itself happens in scale-run.ts, started inside the broker's namespace.
// Everything is removed afterwards, also when the run fails (destroyLabByPrefix).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger, type LogLevel } from '../../src/shared/log.js';
import { runCommand, runIpBatch } from '../lab/command.js';
import { destroyLabByPrefix } from '../lab/cleanup.js';
import { NETNS_ETC_DIR, FAIL_FAST_RESOLV_CONF } from '../lab/network-builder.js';
import { BROKER_NODE_IP, PEERS_NODE_IP, peerAddressLines, scaleHostsFile, scalePeers } from './scale-plan.js';
import type { ScaleMode, ScaleReport, ScaleRunOptions } from './scale-report.js';

export interface ScaleLabOptions {
  peers: number;
  workers: number;
  maxDialsInFlight: number;
  mode: ScaleMode;
  idleSec?: number;
  timeoutSec?: number;
  /** Lab name (namespaces `<prefix>-b`, `<prefix>-p`); default kls<4 hex>. */
  prefix?: string;
  /** Progress lines (default: none). */
  onProgress?: (line: string) => void;
  /** Keep the work dir (logs) instead of removing it. */
  keepWorkDir?: boolean;
  /** The broker's --log-level; default warn. */
  brokerLogLevel?: LogLevel;
}

export async function runScaleLab(options: ScaleLabOptions): Promise<ScaleReport & { workDir: string }> {
  const prefix = options.prefix ?? `kls${randomBytes(2).toString('hex')}`;
  const brokerNs = `${prefix}-b`;
  const peersNs = `${prefix}-p`;
  const peers = scalePeers(options.peers);
  const progress = options.onProgress ?? (() => undefined);
  const workDir = await mkdtemp(path.join(os.tmpdir(), `kubelink-scale-${prefix}-`));
  const log = createLogger({ level: 'warn' });
  let failed = true;
  try {
    progress(`namespaces ${brokerNs}, ${peersNs}; ${peers.length} peer addresses`);
    await mkdir(path.join(NETNS_ETC_DIR, brokerNs), { recursive: true });
    await writeFile(path.join(NETNS_ETC_DIR, brokerNs, 'hosts'), scaleHostsFile(peers));
    await writeFile(path.join(NETNS_ETC_DIR, brokerNs, 'resolv.conf'), FAIL_FAST_RESOLV_CONF);
    await runCommand(['ip', 'netns', 'add', brokerNs]);
    await runCommand(['ip', 'netns', 'add', peersNs]);
    await runIpBatch(brokerNs, [
      'link set lo up',
      `link add eth0 type veth peer name eth0 netns ${peersNs}`,
      `addr add ${BROKER_NODE_IP}/16 dev eth0`,
      'link set eth0 up',
    ]);
    await runIpBatch(peersNs, ['link set lo up', `addr add ${PEERS_NODE_IP}/16 dev eth0`, 'link set eth0 up', ...peerAddressLines(peers)]);

    const runOptions: ScaleRunOptions = {
      peers: options.peers,
      workers: options.workers,
      maxDialsInFlight: options.maxDialsInFlight,
      mode: options.mode,
      idleSec: options.idleSec ?? 10,
      timeoutSec: options.timeoutSec ?? 120,
      workDir,
      peersNs,
      brokerLogLevel: options.brokerLogLevel ?? 'warn',
    };
    const optionsFile = path.join(workDir, 'options.json');
    await writeFile(optionsFile, JSON.stringify(runOptions));
    const runner = new URL('./scale-run.js', import.meta.url).pathname;
    const child = spawn('ip', ['netns', 'exec', brokerNs, process.execPath, runner, optionsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = '';
    createInterface({ input: child.stdout! }).on('line', (line) => (last = line));
    createInterface({ input: child.stderr! }).on('line', (line) => progress(line.replace(/^scale: /, '')));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`the scale run failed (exit ${code}); logs in ${workDir}`);
    failed = false;
    return { ...(JSON.parse(last) as ScaleReport), workDir };
  } finally {
    await destroyLabByPrefix(prefix, log);
    await rm(path.join(NETNS_ETC_DIR, brokerNs), { recursive: true, force: true });
    if (!failed && !options.keepWorkDir) await rm(workDir, { recursive: true, force: true });
  }
}
