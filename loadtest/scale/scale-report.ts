// What `lab scale` measures and how it prints it. The targets are issue 8's for a /24 mesh
// on a 2-vCPU machine; the table says per figure whether it is met.
import { formatTextTable, type Cell } from '../tool/text-table.js';
import type { LogLevel } from '../../src/shared/log.js';

export type ScaleMode = 'files' | 'api' | 'both';

/** What scale-lab.ts hands the measuring process. */
export interface ScaleRunOptions {
  peers: number;
  workers: number;
  maxDialsInFlight: number;
  mode: ScaleMode;
  /** Seconds of idle CPU sampling. */
  idleSec: number;
  /** How long any convergence may take before the run fails. */
  timeoutSec: number;
  workDir: string;
  peersNs: string;
  /** The broker's --log-level (warn keeps the measured broker quiet; info logs every closed connection). */
  brokerLogLevel: LogLevel;
}

export interface Convergence {
  allUpMs: number;
  /** Routes of the broker present when the last link turned Up. */
  routesAtAllUp: number;
  allRoutesMs: number;
  handshakeFailures: number;
}

export interface ScaleReport {
  peers: number;
  workers: number;
  maxDialsInFlight: number;
  /** Broker started with every link present: from process start. */
  coldStart?: Convergence;
  /** Every link written at once to a running broker: from the write. */
  linksAdded?: Convergence;
  resources?: {
    baseRssMiB: number;
    rssMiB: number;
    rssPerTunnelMiB: number;
    baseFds: number;
    fds: number;
    fdsPerTunnel: number;
    baseThreads: number;
    threads: number;
  };
  idleCpuPercent?: number;
  idlePing?: { sent: number; lost: number; medianMs: number; maxMs: number };
  /** One echo through every tunnel: the links whose peer did not answer. */
  pingEveryTunnel?: { tunnels: number; unanswered: string[] };
  silentPeer?: { detectMs: number; othersUpWhileDown: number; backUpMs: number };
  churn?: {
    removed: number;
    removeMs: number;
    readdAllUpMs: number;
    readdAllRoutesMs: number;
    readdHandshakeFailures: number;
    pingSent: number;
    pingLost: number;
    pingMaxMs: number;
    pingP99Ms: number;
  };
  peakDialsInFlight?: number;
  /** Up means traffic flows: a link whose route is held back by a foreign route. */
  routeGate?: { tunnelCarriedKeepalives: boolean; upWhileUnrouted: boolean; upAfterRouteFreedMs: number; deletedRouteBackMs: number };
  routeReconcile?: { routes: number; addMs: number; removeMs: number; failed: number };
  apiMode?: { applyMs: number; allStatusUpMs: number; routesAtAllUp: number; allRoutesMs: number; handshakeFailures: number };
}

const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);
const verdict = (ok: boolean | undefined) => (ok === undefined ? '-' : ok ? 'met' : 'NOT met');

/** The report as a table: figure, value, target, met. */
export function formatScaleReport(r: ScaleReport): string {
  const rows: Cell[][] = [];
  const row = (figure: string, value: string, target = '', ok?: boolean) => rows.push([figure, value, target, target ? verdict(ok) : '']);
  const n = r.peers;
  if (r.coldStart) {
    row('cold start: all Up', s(r.coldStart.allUpMs), '<= 5 s', r.coldStart.allUpMs <= 5000);
    row('cold start: routes present at all-Up', `${r.coldStart.routesAtAllUp}/${n}`, `${n}/${n}`, r.coldStart.routesAtAllUp === n);
    row('cold start: all routes', s(r.coldStart.allRoutesMs), '<= 5 s', r.coldStart.allRoutesMs <= 5000);
    row('cold start: handshake failures', String(r.coldStart.handshakeFailures), '0', r.coldStart.handshakeFailures === 0);
  }
  if (r.linksAdded) {
    row(`${n} links added: all Up`, s(r.linksAdded.allUpMs), '<= 5 s', r.linksAdded.allUpMs <= 5000);
    row(`${n} links added: routes at all-Up`, `${r.linksAdded.routesAtAllUp}/${n}`, `${n}/${n}`, r.linksAdded.routesAtAllUp === n);
    row(`${n} links added: all routes`, s(r.linksAdded.allRoutesMs), '<= 5 s', r.linksAdded.allRoutesMs <= 5000);
    row(`${n} links added: handshake failures`, String(r.linksAdded.handshakeFailures), '0', r.linksAdded.handshakeFailures === 0);
  }
  if (r.routeReconcile) {
    row(`route reconcile, ${r.routeReconcile.routes} routes added`, ms(r.routeReconcile.addMs), '< 1 s', r.routeReconcile.addMs < 1000 && r.routeReconcile.failed === 0);
    row(`route reconcile, ${r.routeReconcile.routes} routes removed`, ms(r.routeReconcile.removeMs), '< 1 s', r.routeReconcile.removeMs < 1000);
  }
  if (r.resources) {
    const x = r.resources;
    row('memory per tunnel (RSS delta / N)', `${x.rssPerTunnelMiB.toFixed(3)} MiB (${x.baseRssMiB.toFixed(0)} -> ${x.rssMiB.toFixed(0)} MiB)`, '<= 0.5 MiB', x.rssPerTunnelMiB <= 0.5);
    row('fds per tunnel', `${x.fdsPerTunnel.toFixed(2)} (${x.baseFds} -> ${x.fds})`);
    row('threads', `${x.baseThreads} -> ${x.threads}`);
  }
  if (r.idleCpuPercent !== undefined) row(`idle CPU, ${n} tunnels`, `${r.idleCpuPercent.toFixed(1)} % of a core`, '< 5 %', r.idleCpuPercent < 5);
  if (r.idlePing) row('idle ping through a tunnel (median / max)', `${ms(r.idlePing.medianMs)} / ${ms(r.idlePing.maxMs)}, ${r.idlePing.lost} lost`);
  if (r.pingEveryTunnel) {
    const u = r.pingEveryTunnel.unanswered;
    row('one ping through every tunnel: answered', `${r.pingEveryTunnel.tunnels - u.length}/${r.pingEveryTunnel.tunnels}${u.length ? ` (silent: ${u.slice(0, 8).join(', ')}${u.length > 8 ? ', ...' : ''})` : ''}`, `${n}/${n}`, u.length === 0);
  }
  if (r.silentPeer) {
    row('silent peer detected Down', s(r.silentPeer.detectMs));
    row('other links Up meanwhile', `${r.silentPeer.othersUpWhileDown}/${n - 1}`, `${n - 1}/${n - 1}`, r.silentPeer.othersUpWhileDown === n - 1);
  }
  if (r.churn) {
    const c = r.churn;
    row(`remove ${c.removed} links (gone, routes removed)`, s(c.removeMs));
    row(`re-add ${c.removed} links: all Up`, s(c.readdAllUpMs), '<= 5 s', c.readdAllUpMs <= 5000);
    row(`re-add ${c.removed} links: all routes`, s(c.readdAllRoutesMs));
    row(`re-add ${c.removed} links: handshake failures`, String(c.readdHandshakeFailures), '0', c.readdHandshakeFailures === 0);
    const idleMax = r.idlePing?.maxMs ?? 0;
    row('worst ping through an untouched tunnel during churn', `${ms(c.pingMaxMs)} (p99 ${ms(c.pingP99Ms)}, ${c.pingLost}/${c.pingSent} lost)`, '< idle + 100 ms', c.pingMaxMs < idleMax + 100);
  }
  if (r.peakDialsInFlight !== undefined) row('peak dials in flight', String(r.peakDialsInFlight), `<= ${r.maxDialsInFlight}`, r.peakDialsInFlight <= r.maxDialsInFlight);
  if (r.routeGate) {
    row('link Up while its route was held by a foreign route', r.routeGate.upWhileUnrouted ? 'yes' : 'no (stayed Down, tunnel up)', 'no', !r.routeGate.upWhileUnrouted);
    row('  Up after the foreign route was removed', s(r.routeGate.upAfterRouteFreedMs), '<= reconcile period (10 s)', r.routeGate.upAfterRouteFreedMs <= 11_000);
    row('route deleted by hand back after', s(r.routeGate.deletedRouteBackMs), '<= reconcile period (10 s)', r.routeGate.deletedRouteBackMs <= 11_000);
  }
  if (r.apiMode) {
    row(`API mode: kubectl apply of ${n} KubeLinks`, s(r.apiMode.applyMs));
    row('API mode: every status Up (from apply)', s(r.apiMode.allStatusUpMs), '<= 5 s', r.apiMode.allStatusUpMs <= 5000);
    row('API mode: routes present at all-Up', `${r.apiMode.routesAtAllUp}/${n}`, `${n}/${n}`, r.apiMode.routesAtAllUp === n);
    row('API mode: all routes', s(r.apiMode.allRoutesMs));
  }
  return `scale lab: ${n} peers, --workers ${r.workers}, --max-dials-in-flight ${r.maxDialsInFlight}\n` + formatTextTable(['figure', 'value', 'target', ''], rows);
}
