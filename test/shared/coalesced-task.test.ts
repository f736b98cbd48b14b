import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCoalescedTask } from '../../src/shared/coalesced-task.js';
import { FakeClock } from '../helpers/fake-clock.js';

test('requests during a run collapse into exactly one more run', async () => {
  let runs = 0;
  let release!: () => void;
  const task = createCoalescedTask(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
  }, 10, (err) => assert.fail(String(err)));
  const first = task.run();
  const more = [task.run(), task.run(), task.run()];
  release();
  await Promise.all([first, ...more]);
  assert.equal(runs, 2);
  await task.stop();
});

test('a failing run is reported and later runs still happen', async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const task = createCoalescedTask(async () => {
    runs++;
    if (runs === 1) throw new Error('boom');
  }, 10, (err) => errors.push(err));
  await task.run();
  await task.run();
  assert.equal(runs, 2);
  assert.equal(errors.length, 1);
  await task.stop();
});

test('triggers are debounced into one run, and stop cancels a pending trigger', async () => {
  const clock = new FakeClock();
  let runs = 0;
  const task = createCoalescedTask(async () => {
    runs++;
  }, 20, () => {}, clock);
  task.trigger();
  await clock.advance(15);
  task.trigger();
  await clock.advance(15);
  task.trigger();
  await clock.advance(19);
  assert.equal(runs, 0, 'each trigger restarts the debounce');
  await clock.advance(1);
  assert.equal(runs, 1);
  await clock.advance(100);
  assert.equal(runs, 1, 'three triggers, one run');
  task.trigger();
  await task.stop();
  assert.equal(clock.pendingTimers, 0, 'stop cancels the pending trigger');
  await clock.advance(100);
  assert.equal(runs, 1);
});
