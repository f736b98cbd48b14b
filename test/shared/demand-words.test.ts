import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { DemandWords } from '../../src/shared/demand-words.js';

const DOORBELL = 0;

test('take returns the marked links once and clears them and the doorbell', () => {
  const demand = new DemandWords(DemandWords.allocate(8));
  assert.equal(demand.maxLinks, 8);
  assert.deepEqual(demand.take(), []);
  demand.mark(7);
  demand.mark(0);
  demand.mark(7);
  assert.deepEqual(demand.take(), [0, 7]);
  assert.deepEqual(demand.take(), []);
  assert.equal(new Int32Array(demand.buffer)[DOORBELL], 0);
});

test('the doorbell rings only on a link word\'s 0 -> 1 edge, not per packet', () => {
  const demand = new DemandWords(DemandWords.allocate(8));
  const words = new Int32Array(demand.buffer);
  demand.mark(1);
  assert.equal(words[DOORBELL], 1);
  Atomics.store(words, DOORBELL, 0); // as if the ring had been heard, the link not yet taken
  demand.mark(1);
  assert.equal(words[DOORBELL], 0, 'a link already marked does not ring again');
  demand.mark(2);
  assert.equal(words[DOORBELL], 1, 'another link does');
  demand.take();
  demand.mark(1);
  assert.equal(words[DOORBELL], 1, 'after a take the next packet for the link rings again');
});

test('rung resolves at once after a mark, and a pending rung on wake', async () => {
  const demand = new DemandWords(DemandWords.allocate(4));
  demand.mark(2);
  await demand.rung();
  demand.take();
  let resolved = false;
  const pending = demand.rung().then(() => (resolved = true));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(resolved, false, 'nothing marked since the take');
  demand.wake();
  await pending;
  assert.equal(resolved, true);
});

test('a mark in another thread (the TUN reader) wakes a waiting rung', async () => {
  const demand = new DemandWords(DemandWords.allocate(16));
  const ringing = demand.rung();
  const moduleUrl = new URL('../../src/shared/demand-words.js', import.meta.url).href;
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     import(workerData.moduleUrl).then(({ DemandWords }) => new DemandWords(workerData.sab).mark(11));`,
    { eval: true, workerData: { sab: demand.buffer, moduleUrl } },
  );
  await ringing;
  await once(worker, 'exit');
  assert.deepEqual(demand.take(), [11]);
});
