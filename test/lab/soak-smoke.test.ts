// `kubelink-lab soak` in miniature, so the tool's code runs in CI (a real soak takes
// minutes): two rounds of 2 s of iperf3, each followed by a restart of cluster 2's broker,
// on a fresh lab with its own prefix, then nothing of the lab may be left. Needs root;
// run it under the lab lock by hand (flock /work/locks/lab.lock).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Lab, defaultLabWorkDir } from '../../loadtest/lab/lab.js';
import { runSoak } from '../../loadtest/soak/soak-run.js';
import { assertNothingLeft } from './lab-leftovers.js';

const prefix = `klss${randomBytes(2).toString('hex')}`;

after(async () => {
  await Lab.destroyByPrefix(prefix); // only if the run failed half-way; a no-op otherwise
});

test('lab soak, two short rounds: peer restarts, samples of the broker, throughput, bounds held, nothing left', async () => {
  const report = await runSoak({ minutes: 1, maxRounds: 2, trafficSec: 2, prefix });
  assert.equal(report.peerRestarts, 2, JSON.stringify(report));
  assert.equal(report.samples.length, 3, 'the baseline and one sample after each round');
  for (const s of report.samples) assert.ok(s.rssMb > 10 && s.fds > 10, `a real broker process was sampled: ${JSON.stringify(s)}`);
  assert.equal(report.roundsGbps.length, 2);
  for (const gbps of report.roundsGbps) assert.ok(gbps > 0, `traffic crossed the tunnel in every round: ${report.roundsGbps.join(', ')}`);
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  await assertNothingLeft(prefix, [], defaultLabWorkDir(prefix));
});
