import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RingSojourn } from '../../src/workers/ring-sojourn.js';

test('an empty ring has waited nothing', () => {
  const sojourn = new RingSojourn();
  assert.equal(sojourn.update(0, 0, 100), 0);
  assert.equal(sojourn.update(500, 500, 200), 0);
});

test('data a pass did not take waits since the pass that saw its position', () => {
  const sojourn = new RingSojourn();
  assert.equal(sojourn.update(1000, 0, 10), 0, 'the first look: nothing known yet');
  // Only up to 400 consumed by then: the data before 1000 was published by t=10.
  assert.equal(sojourn.update(3000, 400, 14), 4);
  assert.equal(sojourn.update(3000, 999, 20), 10);
  // 1000 reached: the next noted position (3000, at t=14) is the oldest still waiting.
  assert.equal(sojourn.update(3000, 1000, 22), 8);
});

test('when every pass takes all that waits, nothing is known to have waited: 0, also after a long sleep', () => {
  const sojourn = new RingSojourn();
  assert.equal(sojourn.update(1000, 0, 10), 0);
  assert.equal(sojourn.update(1800, 1000, 13), 0);
  assert.equal(sojourn.update(2600, 1800, 5_000), 0);
  assert.equal(sojourn.update(2600, 2600, 5_001), 0);
});

test('positions wrap around the u32 counter', () => {
  const sojourn = new RingSojourn();
  const start = 0xffff_ff00;
  assert.equal(sojourn.update(start, start - 100, 0), 0);
  assert.equal(sojourn.update((start + 0x200) >>> 0, start - 50, 5), 5, 'the position before the wrap still waits');
  assert.equal(sojourn.update((start + 0x200) >>> 0, start, 7), 2, 'the position after the wrap, noted at t=5');
  assert.equal(sojourn.update((start + 0x200) >>> 0, (start + 0x200) >>> 0, 9), 0);
});
