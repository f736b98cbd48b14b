// What `kubelink status` shows of each KubeLink, as pure functions of the resources and the
// time: the rows, the table, the JSON, and whether the mesh is healthy (every link Up).
import type { KubeLinkResource } from '../../shared/types.js';

export interface LinkStatusRow {
  name: string;
  state: string;
  message: string;
  gateway: string | null;
  rttMs: number | null;
  rxBytes: number | null;
  txBytes: number | null;
  /** When the broker took rttMs/rxBytes/txBytes. */
  statsTime: string | null;
  lastTransitionTime: string | null;
  /** Seconds since lastTransitionTime; null when unknown. */
  sinceSeconds: number | null;
  statsAgeSeconds: number | null;
}

function secondsSince(time: string | undefined, now: Date): number | null {
  if (!time) return null;
  const at = Date.parse(time);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((now.getTime() - at) / 1000));
}

export function linkStatusRows(links: KubeLinkResource[], now: Date): LinkStatusRow[] {
  return [...links]
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
    .map((link) => {
      const s = link.status ?? {};
      return {
        name: link.metadata.name,
        // A KubeLink no broker has reported on yet has no state.
        state: s.state ?? 'Unknown',
        message: s.message ?? '',
        gateway: s.gateway ?? null,
        rttMs: s.rttMs ?? null,
        rxBytes: s.rxBytes ?? null,
        txBytes: s.txBytes ?? null,
        statsTime: s.statsTime ?? null,
        lastTransitionTime: s.lastTransitionTime ?? null,
        sinceSeconds: secondsSince(s.lastTransitionTime, now),
        statsAgeSeconds: secondsSince(s.statsTime, now),
      };
    });
}

/** Healthy: at least one KubeLink, and all of them Up. */
export function allUp(rows: LinkStatusRow[]): boolean {
  return rows.length > 0 && rows.every((r) => r.state === 'Up');
}

/** 90 -> "1m30s", 7300 -> "2h1m", 200000 -> "2d7h" (two units, like kubectl's ages). */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  const units: Array<[string, number]> = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (unit === 's' && parts.length === 0)) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join('');
}

/** 1536 -> "1.5KiB"; bytes below 1 KiB as they are. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value < 10 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

export function formatRtt(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${Math.round(ms)}ms`;
}

const COLUMNS: Array<[string, (r: LinkStatusRow) => string]> = [
  ['NAME', (r) => r.name],
  ['STATE', (r) => r.state],
  ['GATEWAY', (r) => r.gateway ?? '-'],
  ['RTT', (r) => formatRtt(r.rttMs)],
  ['RX', (r) => formatBytes(r.rxBytes)],
  ['TX', (r) => formatBytes(r.txBytes)],
  ['SINCE', (r) => formatDuration(r.sinceSeconds)],
  ['STATS', (r) => formatDuration(r.statsAgeSeconds)],
  ['MESSAGE', (r) => r.message],
];

/** A kubectl-like table: columns padded to their widest cell, the last one free. */
export function statusTable(rows: LinkStatusRow[]): string {
  if (rows.length === 0) return 'No KubeLinks found.\n';
  const cells = [COLUMNS.map(([title]) => title), ...rows.map((r) => COLUMNS.map(([, cell]) => cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export function statusJson(rows: LinkStatusRow[], now: Date): string {
  return JSON.stringify({ time: now.toISOString(), allUp: allUp(rows), links: rows });
}
