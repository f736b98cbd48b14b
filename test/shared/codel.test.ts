import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoDel } from '../../src/shared/codel.js';

const options = { targetMs: 5, intervalMs: 100 };

/** Asks shouldDrop once per ms from `fromMs` to `toMs` with the delay `delayAt(t)`; returns the drop times. */
function run(codel: CoDel, fromMs: number, toMs: number, delayAt: (t: number) => number): number[] {
  const drops: number[] = [];
  for (let t = fromMs; t < toMs; t++) if (codel.shouldDrop(delayAt(t), t)) drops.push(t);
  return drops;
}

test('a delay below target never drops, however long', () => {
  const codel = new CoDel(options);
  assert.deepEqual(run(codel, 1, 10_000, () => 4.9), []);
  assert.equal(codel.isDropping, false);
});

test('a delay above target drops first after one interval, then at interval / sqrt(count)', () => {
  const codel = new CoDel(options);
  const drops = run(codel, 1, 400, () => 20);
  // Above target from t=1: the first drop once a whole interval passed (t=101), the next
  // one interval later (count 1), then 100/sqrt(2) ~ 70.7 ms, 100/sqrt(3) ~ 57.7 ms, ...
  assert.deepEqual(drops, [101, 201, 272, 330, 380]);
  assert.equal(codel.isDropping, true);
  assert.equal(codel.drops, drops.length);
});

test('a burst shorter than the interval is absorbed, and a delay falling below target ends the dropping', () => {
  const codel = new CoDel(options);
  assert.deepEqual(run(codel, 1, 90, () => 50), [], 'above target for 89 ms: no drop');
  assert.deepEqual(run(codel, 90, 200, () => 1), []);
  assert.deepEqual(run(codel, 200, 320, () => 50), [300]);
  assert.deepEqual(run(codel, 320, 400, () => 1), []);
  assert.equal(codel.isDropping, false);
});

test('dropping again soon after stopping resumes near the previous drop rate', () => {
  const codel = new CoDel(options);
  const first = run(codel, 1, 600, () => 20);
  assert.ok(first.length >= 8);
  run(codel, 600, 610, () => 1);
  const again = run(codel, 610, 900, () => 20);
  // Back above target: one interval, then drops spaced closer than the first 70 ms.
  assert.equal(again[0], 710);
  assert.ok(again[1]! - again[0]! < 70, `second gap ${again[1]! - again[0]!} ms`);
});

test('target and interval are checked', () => {
  assert.throws(() => new CoDel({ targetMs: 0, intervalMs: 100 }), /0 < targetMs <= intervalMs, got 0 \/ 100/);
  assert.throws(() => new CoDel({ targetMs: 200, intervalMs: 100 }), RangeError);
});
