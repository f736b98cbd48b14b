// `kubelink-lab chaos` with short disturbances, so the tool's code runs in CI (a real run
// takes minutes): every step of the sequence on a fresh Kubernetes-mode lab with its own
// prefix, the broker SIGSTOPped and the WAN down for 2 s instead of 10 and 15, 20 s of
// iperf3 load. The SIGKILL step still waits out the killed leader's 15 s lease. Needs
// root; run it under the lab lock by hand (flock /work/locks/lab.lock).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Lab, defaultLabWorkDir } from '../../loadtest/lab/lab.js';
import { runChaos } from '../../loadtest/chaos/chaos-run.js';
import { assertNothingLeft } from './lab-leftovers.js';

const prefix = `klcs${randomBytes(2).toString('hex')}`;

after(async () => {
  await Lab.destroyByPrefix(prefix); // only if the run failed half-way; a no-op otherwise
});

test('lab chaos, short disturbances: every step recovers with one SNAT rule, guard jump and broker each, none after the stop, nothing left', async () => {
  const report = await runChaos({ prefix, stopSec: 2, blackholeSec: 2, loadSec: 20 });
  assert.deepEqual(report.steps.map((s) => s.name), [
    'SIGKILL of the peer broker, restarted at once',
    'SIGSTOP of the peer broker for 2 s',
    "2 s blackhole of the peer gateway's WAN interface",
    "restart of the peer cluster's API server (same data file)",
    "rotation of the peer broker's TLS Secret (kubectl apply)",
  ]);
  for (const step of report.steps) {
    assert.ok(step.resumeSec >= 0, `${step.name}: traffic came back (${step.resumeSec} s)`);
    assert.deepEqual({ ...step.leftovers, tunRoutes: undefined }, { snatRules: 1, guardJumps: 1, tunRoutes: undefined, brokerProcesses: 1 }, step.name);
  }
  assert.match(report.steps[3]!.detail ?? '', /marked Invalid after [\d.]+ s; KubeLinks all Up/);
  assert.match(report.steps[4]!.detail ?? '', /new connections got the new certificate after [\d.]+ s; tunnel reconnects 0/);
  assert.deepEqual(report.finalLeftovers, { snatRules: 0, guardJumps: 0, tunRoutes: 0, brokerProcesses: 0 });
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  await assertNothingLeft(prefix, [], defaultLabWorkDir(prefix));
});
