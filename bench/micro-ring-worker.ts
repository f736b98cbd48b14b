// Producer thread of bench/micro.ts's ring benchmark: writes `records` records of
// `recordBytes` from a source at `sourceOffset` (its alignment decides how fast V8
// copies into shared memory), publishing every `batch` records, as the TUN reader does.
import { parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from '../src/shared/spsc-ring.js';

export interface RingBenchJob {
  ring: SharedArrayBuffer;
  records: number;
  recordBytes: number;
  sourceOffset: number;
  batch: number;
}

const job = workerData as RingBenchJob;
const ring = new SpscRing(job.ring);
const source = new Uint8Array(job.recordBytes + 16).fill(0x45);
let sent = 0;
while (sent < job.records) {
  const end = Math.min(sent + job.batch, job.records);
  while (sent < end) {
    if (ring.write(source, job.sourceOffset, job.recordBytes, 1)) sent++;
    else ring.publish(); // full: make what we have visible and try again
  }
  ring.publish();
}
parentPort!.postMessage({ drops: ring.drops() });
