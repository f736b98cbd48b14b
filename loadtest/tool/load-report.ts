// Load-test results: one row per measured cell, as a table for the terminal and as JSON.
// Pure; the runner in load-command.ts fills the rows.

import { formatTextTable } from './text-table.js';

export interface LoadCell {
  /** --workers of every broker. */
  workers: number;
  /** Client clusters sending at once (each to its own iperf3 server in the server cluster). */
  peers: number;
  /** Parallel streams per client (-P). */
  streams: number;
  protocol: 'tcp' | 'udp';
  reverse: boolean;
  /** e.g. `c2,c3 -> c1`. */
  direction: string;
  durationSec: number;
}

export interface LoadRow extends LoadCell {
  /** Sum over the peers, receiver side, Gbit/s; undefined when the cell failed. */
  totalGbps?: number;
  /** Per peer, Gbit/s. */
  perPeerGbps: number[];
  /** TCP retransmits summed over peers. */
  retransmits: number;
  /** UDP: mean loss over peers, percent. */
  lostPercent?: number;
  /** CPU seconds each broker used during the run, by cluster. */
  brokerCpuSec: Record<string, number>;
  /** The same as percent of one CPU over the run's wall time. */
  brokerCpuPercent: Record<string, number>;
  wallSec: number;
  failure?: string;
}

export interface LoadReport {
  kind: 'pair' | 'matrix';
  date: string;
  machine: string;
  command: string;
  rows: LoadRow[];
}

/** Core-seconds per Gbit carried, per broker: what predicts a bigger machine (per core, not per box). */
export function cpuPerGbitText(row: LoadRow): string {
  if (row.totalGbps === undefined || row.totalGbps === 0) return '';
  const gbit = row.totalGbps * row.durationSec;
  return Object.entries(row.brokerCpuSec)
    .map(([cluster, sec]) => `${cluster} ${(sec / gbit).toFixed(3)}`)
    .join(' ');
}

function cpuText(row: LoadRow): string {
  return Object.entries(row.brokerCpuPercent)
    .map(([cluster, percent]) => `${cluster} ${percent.toFixed(0)}%`)
    .join(' ');
}

export function formatLoadTable(rows: readonly LoadRow[]): string {
  const matrix = rows.some((r) => r.peers > 1) || new Set(rows.map((r) => r.workers)).size > 1;
  const header = ['workers', 'peers', 'streams', 'proto', 'direction', 'Gbit/s total', 'per peer', matrix ? 'retr' : 'retransmits', 'broker CPU (% of one core)', 'core-s/Gbit per broker'];
  const body = rows.map((r) => [
    r.workers,
    r.peers,
    r.streams,
    r.protocol + (r.reverse ? ' -R' : ''),
    r.direction,
    r.totalGbps === undefined ? `failed: ${r.failure ?? ''}` : r.totalGbps.toFixed(2),
    r.perPeerGbps.map((g) => g.toFixed(2)).join(' '),
    r.protocol === 'udp' ? `loss ${(r.lostPercent ?? 0).toFixed(1)}%` : String(r.retransmits),
    cpuText(r),
    cpuPerGbitText(r),
  ]);
  return formatTextTable(header, body);
}

/**
 * How throughput scales: for each peer count and stream count, total Gbit/s with W workers
 * relative to the smallest worker count measured.
 */
export function formatScaling(rows: readonly LoadRow[]): string {
  const workers = [...new Set(rows.map((r) => r.workers))].sort((a, b) => a - b);
  if (workers.length < 2) return '';
  const base = workers[0]!;
  const lines: string[] = [];
  for (const row of rows) {
    if (row.workers === base || row.totalGbps === undefined) continue;
    const ref = rows.find((r) => r.workers === base && r.peers === row.peers && r.streams === row.streams)?.totalGbps;
    if (ref === undefined || ref === 0) continue;
    lines.push(`  peers ${row.peers}, streams ${row.streams}: --workers ${row.workers} gives ${(row.totalGbps / ref).toFixed(2)}x of --workers ${base}`);
  }
  return lines.length > 0 ? `Scaling with --workers:\n${lines.join('\n')}` : '';
}
