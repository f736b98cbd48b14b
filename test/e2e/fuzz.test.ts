// The fuzzing peer's short run (CI): a seeded hostile mix against a broker on a fresh lab.
// Needs root, TUN and network namespaces. `kubelink-lab fuzz` runs the long version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from '../../loadtest/fuzz/fuzz-run.js';

test('2000 hostile frames from a peer with a valid certificate: no forbidden packet leaves the TUN and every drop counter matches what was sent', async () => {
  const report = await runFuzz({ frames: 2000, seed: 7 });
  assert.deepEqual(report.problems, []);
  assert.equal(report.forbiddenPassed, 0);
  assert.equal(report.framesSent, 2000);
  for (const [verdict, count] of Object.entries(report.counted)) {
    assert.ok(count > 0, `the mix holds ${verdict} frames`);
    assert.equal(count, report.sent[verdict as keyof typeof report.sent], verdict);
  }
  assert.equal(report.passedAtTun + report.ringFullDrops, report.sent.pass);
  assert.ok(report.ok);
});
