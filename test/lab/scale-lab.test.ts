// The scale lab at a size CI can afford: one broker, 32 simulated peers, links from files
// and from the test API server. Figures are printed, not asserted (they are times on a
// shared machine); what is asserted is what must hold at any speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScaleLab } from '../../loadtest/scale/scale-lab.js';
import { formatScaleReport } from '../../loadtest/scale/scale-report.js';

const PEERS = 32;
const MAX_DIALS = 8;

test(`scale lab, ${PEERS} peers: every link comes Up with its route, a silent peer goes Down alone, half the links churn without touching the others`, async () => {
  const report = await runScaleLab({ peers: PEERS, workers: 2, maxDialsInFlight: MAX_DIALS, mode: 'both', idleSec: 3, timeoutSec: 120 });
  process.stdout.write(`${formatScaleReport(report)}\n`);
  assert.deepEqual(report.pingEveryTunnel, { tunnels: PEERS, unanswered: [] }, 'every tunnel that is Up carries a ping and its answer');
  assert.equal(report.silentPeer?.othersUpWhileDown, PEERS - 1, 'the other links stay Up while one peer is silent');
  assert.equal(report.churn?.removed, PEERS / 2);
  assert.ok((report.peakDialsInFlight ?? 0) >= 1 && (report.peakDialsInFlight ?? 0) <= MAX_DIALS, `the broker's dials stay within --max-dials-in-flight (peak ${report.peakDialsInFlight})`);
  assert.deepEqual(report.routeReconcile && { routes: report.routeReconcile.routes, failed: report.routeReconcile.failed }, { routes: PEERS, failed: 0 });
  assert.equal(report.resources?.threads, report.resources?.baseThreads, 'no thread per tunnel');
  assert.equal(report.apiMode?.routesAtAllUp, PEERS, 'API mode: every route in place when the last status turned Up');
  assert.equal(report.coldStart?.routesAtAllUp, PEERS, 'Up means routed: every route in place when the last link turned Up');
  assert.equal(report.linksAdded?.routesAtAllUp, PEERS);
  assert.equal(report.routeGate?.tunnelCarriedKeepalives, true);
  assert.equal(report.routeGate?.upWhileUnrouted, false, 'a link whose route a foreign route holds is never Up, although its tunnel carries keepalives');
  assert.ok(report.routeGate!.upAfterRouteFreedMs >= 0, 'and it comes Up once the route is installed');
  assert.ok(report.routeGate!.deletedRouteBackMs >= 0, 'a route deleted by hand comes back at the next reconcile');
});
