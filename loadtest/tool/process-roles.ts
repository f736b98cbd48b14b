// Which lab process is which, from the pid records in the lab's state dir: the API
// servers, brokers and routers the tool starts, and the lab's echo and iperf3 servers.

import { processStartTicks, readProcessRecords, type ProcessRecord } from '../lab/state-dir.js';

export type ProcessRole = 'api-server' | 'broker' | 'router' | 'echo' | 'iperf3' | 'other';

export interface LabProcessInfo {
  role: ProcessRole;
  /** Cluster name (c1...) from the namespace, '' when not a cluster's. */
  cluster: string;
  pid: number;
  ns: string;
  alive: boolean;
}

/** The role of a recorded process, from its argv (the broker may run under a profiler). */
export function processRole(argv: readonly string[]): ProcessRole {
  const text = argv.join(' ');
  if (/apiserver\/cli\.js/.test(text)) return 'api-server';
  if (text.includes('--controllers=broker')) return 'broker';
  if (text.includes('--controllers=router')) return 'router';
  if (/echo-server\.js/.test(text)) return 'echo';
  if (argv[0] === 'iperf3') return 'iperf3';
  return 'other';
}

/** `c3` from `<prefix>-c3-gw`. */
export function clusterOfNamespace(prefix: string, ns: string): string {
  return new RegExp(`^${prefix}-(c\\d+)-`).exec(ns)?.[1] ?? '';
}

export function describeRecord(prefix: string, record: ProcessRecord): LabProcessInfo {
  const ticks = processStartTicks(record.pid);
  return {
    role: processRole(record.argv),
    cluster: clusterOfNamespace(prefix, record.ns),
    pid: record.pid,
    ns: record.ns,
    alive: ticks !== undefined && (record.startTicks === 0 || ticks === record.startTicks),
  };
}

/** Every recorded process of lab `prefix`, cluster then role order. */
export async function labProcesses(prefix: string): Promise<LabProcessInfo[]> {
  const records = await readProcessRecords(prefix);
  return records
    .map((r) => describeRecord(prefix, r))
    .sort((a, b) => a.cluster.localeCompare(b.cluster, 'en', { numeric: true }) || a.role.localeCompare(b.role) || a.pid - b.pid);
}
