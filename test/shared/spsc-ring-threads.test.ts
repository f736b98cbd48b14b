import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { SpscRing, type RecordHandler } from '../../src/shared/spsc-ring.js';
import { makePattern, patternStart, recordLength, recordTag, type ProducerJob, type ProducerResult } from '../fixtures/spsc-ring-producer.worker.js';

const PRODUCER_URL = new URL('../fixtures/spsc-ring-producer.worker.js', import.meta.url);
// Producers pause at most a few ms; a consumer asleep this long with records due has
// missed a wake-up (or its producer died).
const LIVENESS_BOUND_MS = 10_000;

/** Checks each record against the producer's recipe; keeps the first mismatch. */
class RecordChecker implements RecordHandler {
  next = 0;
  error: string | undefined;
  private readonly pattern: Uint8Array;

  constructor(private readonly job: ProducerJob) {
    this.pattern = makePattern(job.seed, job.maxLength);
  }

  get done(): boolean {
    return this.next >= this.job.records;
  }

  onRecord(data: Uint8Array, offset: number, length: number, tag: number): void {
    const seq = this.next++;
    if (this.error !== undefined) return;
    const carried = (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0;
    const start = patternStart(seq);
    if (carried !== seq) this.error = `record ${seq} carries seq ${carried}`;
    else if (length !== recordLength(seq, this.job.maxLength)) this.error = `record ${seq} has length ${length}`;
    else if (tag !== recordTag(seq)) this.error = `record ${seq} has tag ${tag}`;
    else if (Buffer.compare(data.subarray(offset + 4, offset + length), this.pattern.subarray(start + 4, start + length)) !== 0) {
      this.error = `record ${seq} content differs`;
    }
  }
}

function startProducer(job: ProducerJob): { worker: Worker; result: Promise<ProducerResult> } {
  const worker = new Worker(PRODUCER_URL, { workerData: { role: 'spsc-ring-producer', job } });
  const result = Promise.race([
    once(worker, 'message').then(([message]) => message as ProducerResult),
    once(worker, 'error').then(([error]) => { throw new Error('ring producer failed', { cause: error }); }),
  ]);
  result.catch(() => {}); // observed by the test after the consumer loop
  return { worker, result };
}

test('three million records of varying length cross from a producer thread in order and intact', async () => {
  const job: ProducerJob = {
    ring: SpscRing.allocate(64 * 1024), records: 3_000_000, seed: 0x2545f491, maxLength: 16_000, burstMax: 64, pauseMaxMs: 0,
  };
  const producer = startProducer(job);
  try {
    const consumer = new SpscRing(job.ring);
    const checker = new RecordChecker(job);
    // The consumer loop of a dedicated thread: load signal, drain, sleep on the loaded value.
    while (!checker.done) {
      const seen = consumer.signalValue();
      if (consumer.read(checker, 256) === 0 && consumer.waitSync(seen, LIVENESS_BOUND_MS) === 'timed-out') {
        assert.fail(`consumer slept ${LIVENESS_BOUND_MS} ms at record ${checker.next} of ${job.records}: a lost wake-up, or the producer died`);
      }
    }
    assert.equal(checker.error, undefined);
    assert.equal(checker.next, job.records);
    assert.ok(consumer.isEmpty());
    await producer.result;
  } finally {
    await producer.worker.terminate();
  }
});

for (const mode of ['waitSync', 'waitAsync'] as const) {
  test(`one consumer sharing a signal word between two rings loses no wake-up (${mode})`, async () => {
    const signal = new SharedArrayBuffer(4);
    const jobs: ProducerJob[] = [0x9e3779b9, 0x7f4a7c15].map((seed) => ({
      ring: SpscRing.allocate(16 * 1024), signal, records: 60_000, seed, maxLength: 3000, burstMax: 48, pauseMaxMs: 1,
    }));
    const producers = jobs.map(startProducer);
    try {
      const signalWord = new Int32Array(signal);
      const rings = jobs.map((job) => new SpscRing(job.ring, { signal: signalWord, signalIndex: 0 }));
      const checkers = jobs.map((job) => new RecordChecker(job));
      let sleeps = 0;
      while (!checkers.every((checker) => checker.done)) {
        const seen = rings[0]!.signalValue();
        let drained = 0;
        for (let i = 0; i < rings.length; i++) drained += rings[i]!.read(checkers[i]!, 64);
        if (drained > 0) continue;
        const result = mode === 'waitSync'
          ? rings[0]!.waitSync(seen, LIVENESS_BOUND_MS)
          : await rings[0]!.waitAsync(seen, LIVENESS_BOUND_MS);
        if (result === 'timed-out') assert.fail(`consumer slept ${LIVENESS_BOUND_MS} ms at records ${checkers.map((c) => c.next).join('/')}`);
        if (result === 'ok') sleeps++;
      }
      for (const checker of checkers) {
        assert.equal(checker.error, undefined);
        assert.equal(checker.next, 60_000);
      }
      assert.ok(sleeps > 0, 'the consumer really slept and was woken');
      await Promise.all(producers.map((p) => p.result));
    } finally {
      await Promise.all(producers.map((p) => p.worker.terminate()));
    }
  });
}
