// Writer side of the route-table seqlock test (route-table.test.ts), run in a Worker.
// `node --test` also runs this file as a test of its own; on the main thread it only
// exports the table recipe the reader checks against.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RouteTable, type RouteEntry } from '../../src/shared/route-table.js';

export interface WriterJob {
  table: SharedArrayBuffer;
  /** Int32 word 0 is set to 1 when the writer is done. */
  done: SharedArrayBuffer;
  generations: number;
}

/** Generation g: (g % 50) + 10 entries 10.i.0.0/16, all pointing at link g % 1000. */
export function generationEntries(generation: number): RouteEntry[] {
  const entries: RouteEntry[] = [];
  const count = (generation % 50) + 10;
  for (let i = 0; i < count; i++) entries.push({ network: (10 << 24) + (i << 16), prefixLength: 16, linkId: generation % 1000 });
  return entries;
}

if (!isMainThread && parentPort && (workerData as { role?: string } | null)?.role === 'route-table-writer') {
  const job = (workerData as { job: WriterJob }).job;
  const table = new RouteTable(job.table);
  for (let g = 1; g <= job.generations; g++) table.publish(generationEntries(g));
  Atomics.store(new Int32Array(job.done), 0, 1);
  parentPort.postMessage('done');
}
