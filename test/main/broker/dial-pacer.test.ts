import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DialPacer } from '../../../src/main/broker/dial-pacer.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function pacer(maxInFlight: number, jitterMs: number, random = () => 0.5) {
  const clock = new FakeClock(0);
  const started: Array<[number, number]> = [];
  const p = new DialPacer({ maxInFlight, jitterMs, clock, random }, (key) => started.push([key, clock.now()]));
  return { clock, started, p };
}

test('never more dials in flight than the cap; each finished handshake lets the next one start', async () => {
  const { clock, started, p } = pacer(3, 0);
  for (let key = 0; key < 10; key++) p.schedule(key, 0, false);
  assert.equal(p.inFlight, 3);
  assert.deepEqual(started.map(([k]) => k), [0, 1, 2]);
  assert.equal(p.queued, 7);
  p.finished(1);
  assert.deepEqual(started.map(([k]) => k), [0, 1, 2, 3]);
  for (let key = 0; key < 10; key++) p.finished(key);
  await clock.advance(0);
  assert.equal(started.length, 10);
  assert.equal(p.peakInFlight, 3);
  assert.equal(clock.pendingTimers, 0, 'nothing due: no timer left');
});

test('fresh dials are spread over the jitter window; later ones start at their due time', async () => {
  let n = 0;
  const randoms = [0.0, 0.5, 0.99];
  const { clock, started, p } = pacer(16, 200, () => randoms[n++ % 3]!);
  p.schedule(1, 0, true);
  p.schedule(2, 0, true);
  p.schedule(3, 0, true);
  p.schedule(4, 1000, false);
  assert.deepEqual(started, [[1, 0]], 'random 0: at once');
  assert.equal(clock.pendingTimers, 1, 'one timer for all queued dials');
  await clock.advance(100);
  assert.deepEqual(started, [[1, 0], [2, 100]]);
  await clock.advance(1000);
  assert.deepEqual(started, [[1, 0], [2, 100], [3, 198], [4, 1000]]);
});

test('a key is queued once (the earlier due time wins), a dial in flight is not queued again, cancel forgets it', async () => {
  const { clock, started, p } = pacer(1, 0);
  p.schedule(7, 0, false);
  p.schedule(7, 0, false);
  assert.equal(p.queued, 0, 'in flight, not queued');
  p.schedule(8, 5000, false);
  p.schedule(8, 100, false);
  p.schedule(9, 50, false);
  p.cancel(9);
  p.finished(7);
  await clock.advance(100);
  assert.deepEqual(started.map(([k, t]) => [k, t]), [[7, 0], [8, 100]]);
  p.stop();
  p.schedule(10, 0, false);
  assert.equal(started.length, 2, 'a stopped pacer starts nothing');
});

test('invalid options are refused naming the option', () => {
  const clock = new FakeClock(0);
  assert.throws(() => new DialPacer({ maxInFlight: 0, jitterMs: 0, clock }, () => undefined), /maxInFlight must be an integer >= 1, got 0/);
  assert.throws(() => new DialPacer({ maxInFlight: 1, jitterMs: -1, clock }, () => undefined), /jitterMs must be >= 0/);
});
