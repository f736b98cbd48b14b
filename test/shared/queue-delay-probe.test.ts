import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueDelayProbe } from '../../src/shared/queue-delay-probe.js';

test('one probe in flight at a time, at most one per interval', () => {
  const probe = new QueueDelayProbe(10);
  assert.equal(probe.probeDue(0), true);
  assert.equal(probe.probeDue(50), false, 'the first is still in flight');
  probe.onRoundTrip(2, 52);
  assert.equal(probe.probeDue(55), true, '10 ms since the last one');
  probe.onRoundTrip(1, 56);
  assert.equal(probe.probeDue(60), false, 'only 5 ms since the last one');
  assert.equal(probe.probeDue(65), true);
});

test('a probe whose ack never comes is given up after a second', () => {
  const probe = new QueueDelayProbe(10);
  assert.equal(probe.probeDue(0), true);
  assert.equal(probe.probeDue(999), false);
  assert.equal(probe.probeDue(1000), true);
});

test('the excess is the round trip above the smallest one, which is remembered over two windows', () => {
  const probe = new QueueDelayProbe(10);
  assert.equal(probe.excessMs, 0);
  probe.onRoundTrip(1, 0);
  assert.equal(probe.excessMs, 0);
  probe.onRoundTrip(31, 100);
  assert.equal(probe.excessMs, 30);
  probe.onRoundTrip(3, 9_000);
  assert.equal(probe.excessMs, 2);
  // A new window starts at 10 s: the old window's 1 ms still counts...
  probe.onRoundTrip(8, 10_000);
  assert.equal(probe.excessMs, 7);
  // ...until the window after: then the smallest of the last two windows (8, 5).
  probe.onRoundTrip(5, 20_000);
  assert.equal(probe.excessMs, 0);
  probe.onRoundTrip(9, 20_500);
  assert.equal(probe.excessMs, 4);
});
