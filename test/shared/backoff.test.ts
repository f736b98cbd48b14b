import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/shared/backoff.js';

test('backoff grows exponentially up to the cap, with jitter between half and all of the step', () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
  const high = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [100, 200, 400, 800, 1000]);
});

test('reset starts the sequence again', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  b.next(); b.next();
  b.reset();
  assert.equal(b.next(), 50);
  assert.equal(b.attempts, 1);
});
