// Producer side of the multi-thread ring tests (spsc-ring-threads.test.ts), run in a
// Worker. `node --test` also runs this file as a test of its own; on the main thread it
// only exports the record recipe the consumer checks against.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MAX_RECORD_TAG, SpscRing } from '../../src/shared/spsc-ring.js';

export interface ProducerJob {
  ring: SharedArrayBuffer;
  /** Shared signal word (index 0), when several rings wake one consumer. */
  signal?: SharedArrayBuffer;
  records: number;
  seed: number;
  maxLength: number;
  /** Records per publish at most (random 1..burstMax). */
  burstMax: number;
  /** Sleep up to this long between bursts, so the consumer keeps falling asleep. */
  pauseMaxMs: number;
}

export interface ProducerResult {
  drops: number;
}

const PATTERN_SPAN = 1 << 20;

/** Random bytes that record contents are cut from. */
export function makePattern(seed: number, maxLength: number): Uint8Array {
  const pattern = new Uint8Array(PATTERN_SPAN + maxLength);
  let x = seed | 1;
  for (let i = 0; i < pattern.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    pattern[i] = x & 0xff;
  }
  return pattern;
}

/** Length of record `seq`: mostly packet-sized, now and then up to maxLength; at least 4 (the seq). */
export function recordLength(seq: number, maxLength: number): number {
  const hash = Math.imul(seq + 1, 0x9e3779b1) >>> 0;
  return 4 + (hash % (seq % 1009 === 0 ? maxLength - 3 : Math.min(1497, maxLength - 3)));
}

export function patternStart(seq: number): number {
  return (Math.imul(seq, 0x85ebca6b) >>> 0) % PATTERN_SPAN;
}

export function recordTag(seq: number): number {
  return seq % (MAX_RECORD_TAG + 1);
}

/** Record `seq` = u32 LE seq, then the pattern bytes from patternStart(seq) + 4. */
function produce(job: ProducerJob): ProducerResult {
  const ring = new SpscRing(job.ring, job.signal ? { signal: new Int32Array(job.signal), signalIndex: 0 } : {});
  const pattern = makePattern(job.seed, job.maxLength);
  const scratch = new Uint8Array(job.maxLength + 8);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let random = job.seed | 1;
  let seq = 0;
  while (seq < job.records) {
    random ^= random << 13; random ^= random >>> 17; random ^= random << 5;
    const burst = 1 + ((random >>> 0) % job.burstMax);
    for (let k = 0; k < burst && seq < job.records;) {
      const length = recordLength(seq, job.maxLength);
      const start = patternStart(seq);
      const offset = seq & 7; // every source alignment
      scratch.set(pattern.subarray(start, start + length), offset);
      scratch[offset] = seq & 0xff;
      scratch[offset + 1] = (seq >>> 8) & 0xff;
      scratch[offset + 2] = (seq >>> 16) & 0xff;
      scratch[offset + 3] = seq >>> 24;
      if (ring.write(scratch, offset, length, recordTag(seq))) {
        seq++;
        k++;
      } else {
        ring.publish();
        Atomics.wait(sleeper, 0, 0, 0.05); // full: let the consumer catch up
      }
    }
    ring.publish();
    if (job.pauseMaxMs > 0) Atomics.wait(sleeper, 0, 0, ((random >>> 8) % 1000) * job.pauseMaxMs / 1000);
  }
  return { drops: ring.drops() };
}

if (!isMainThread && parentPort && (workerData as { role?: string } | null)?.role === 'spsc-ring-producer') {
  parentPort.postMessage(produce((workerData as { job: ProducerJob }).job));
}
