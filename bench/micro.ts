// Micro benchmarks of the data-plane building blocks (src/shared), bounded to well under
// a minute: `npm run bench:micro`. Prints one table; each figure is the median of 5 runs.
//   ring      records/s between two threads, 1400-byte records, batches of 32 per publish
//   copy      one 1400-byte copy into shared memory, by source alignment (why records skew)
//   codec     FrameBatcher encode and FrameDecoder decode (16 KiB chunks, as TLS delivers)
//   route     RouteTable.lookup with 1, 16 and 253 links (service CIDR + cluster address each)
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { SpscRing, type RecordHandler } from '../src/shared/spsc-ring.js';
import { FrameBatcher, FrameDecoder, type FrameSink } from '../src/shared/frame-codec.js';
import { RouteTable, linkRouteEntries, type RouteEntry } from '../src/shared/route-table.js';
import type { RingBenchJob } from './micro-ring-worker.js';

const RUNS = 5;
const PACKET_BYTES = 1400;

interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function ipv4Packet(length: number): Buffer {
  const packet = Buffer.alloc(length, 0xab);
  packet[0] = 0x45;
  packet.writeUInt16BE(length, 2);
  packet.writeUInt32BE(0xc0a8000c, 12);
  packet.writeUInt32BE(0x6440000a, 16);
  return packet;
}

// ---- ring ---------------------------------------------------------------------------

/** Counts records; touches one byte of each, as a consumer handing it on would. */
class CountingHandler implements RecordHandler {
  records = 0;
  checksum = 0;
  onRecord(data: Uint8Array, offset: number): void {
    this.records++;
    this.checksum += data[offset]!;
  }
}

async function ringRun(records: number, sourceOffset: number, consumer: 'waitSync' | 'waitAsync'): Promise<number> {
  const job: RingBenchJob = { ring: SpscRing.allocate(1 << 20), records, recordBytes: PACKET_BYTES, sourceOffset, batch: 32 };
  const ring = new SpscRing(job.ring);
  const handler = new CountingHandler();
  const worker = new Worker(new URL('./micro-ring-worker.js', import.meta.url), { workerData: job });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  let first = 0;
  while (handler.records < records) {
    const seen = ring.signalValue();
    const n = ring.read(handler, 256);
    if (n > 0) {
      if (first === 0) first = performance.now();
      continue;
    }
    if (consumer === 'waitSync') ring.waitSync(seen, 5000);
    else await ring.waitAsync(seen, 5000);
  }
  const seconds = (performance.now() - first) / 1000;
  await exited;
  return (records - 1) / seconds;
}

async function ringRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const cases = [
    { name: 'ring 1400 B, aligned source, waitSync consumer', offset: 0, consumer: 'waitSync' as const },
    { name: 'ring 1400 B, source at +2, waitSync consumer', offset: 2, consumer: 'waitSync' as const },
    { name: 'ring 1400 B, aligned source, waitAsync consumer', offset: 0, consumer: 'waitAsync' as const },
  ];
  for (const c of cases) {
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) rates.push(await ringRun(1_000_000, c.offset, c.consumer));
    rows.push({ name: c.name, value: median(rates), unit: 'records/s', note: `${((median(rates) * PACKET_BYTES * 8) / 1e9).toFixed(1)} Gbit/s` });
  }
  return rows;
}

// ---- copy ---------------------------------------------------------------------------

function copyRows(): Row[] {
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 16));
  const plain = new Uint8Array(1 << 16);
  const source = new Uint8Array(PACKET_BYTES + 16);
  const iterations = 1_000_000;
  const measure = (target: Uint8Array, sourceOffset: number): number => {
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      for (let i = 0; i < iterations; i++) target.set(source.subarray(sourceOffset, sourceOffset + PACKET_BYTES), 8);
      times.push(((performance.now() - start) * 1e6) / iterations);
    }
    return median(times);
  };
  return [
    { name: 'copy 1400 B plain -> plain, misaligned', value: measure(plain, 2), unit: 'ns/op' },
    { name: 'copy 1400 B plain -> shared, equal alignment', value: measure(shared, 0), unit: 'ns/op' },
    { name: 'copy 1400 B plain -> shared, misaligned', value: measure(shared, 2), unit: 'ns/op', note: 'what the record skew avoids' },
  ];
}

// ---- frame codec ---------------------------------------------------------------------

class CountingSink implements FrameSink {
  packets = 0;
  bytes = 0;
  other = 0;
  onIpPacket(_buf: Uint8Array, _offset: number, length: number): void {
    this.packets++;
    this.bytes += length;
  }
  onControl(): void {
    this.other++;
  }
  onMalformed(): void {
    this.other++;
  }
}

function encodeRate(packets: number, source: Uint8Array, offset: number): number {
  const batcher = new FrameBatcher();
  const start = performance.now();
  for (let i = 0; i < packets; i++) {
    if (!batcher.append(source, offset, PACKET_BYTES)) {
      batcher.take();
      batcher.append(source, offset, PACKET_BYTES);
    }
  }
  batcher.take();
  return packets / ((performance.now() - start) / 1000);
}

function decodeRate(packets: number): number {
  // One ~4 MiB stream cut into the 16 KiB pieces TLS hands out, pushed until `packets` decoded.
  const batcher = new FrameBatcher({ batchBytes: 4 << 20 });
  const packet = ipv4Packet(PACKET_BYTES);
  while (batcher.append(packet, 0, PACKET_BYTES));
  const framesPerStream = batcher.pendingFrames;
  const stream = batcher.take()!;
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += 16384) chunks.push(stream.subarray(at, at + 16384));
  const sink = new CountingSink();
  const decoder = new FrameDecoder({}, sink);
  const rounds = Math.ceil(packets / framesPerStream);
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const chunk of chunks) decoder.push(chunk);
  const seconds = (performance.now() - start) / 1000;
  if (sink.other !== 0 || sink.packets !== rounds * framesPerStream) throw new Error('decoder bench lost frames');
  return sink.packets / seconds;
}

function codecRows(): Row[] {
  const packets = 1_000_000;
  const plainPacket = ipv4Packet(PACKET_BYTES);
  const sharedSource = new Uint8Array(new SharedArrayBuffer(PACKET_BYTES + 16));
  sharedSource.set(plainPacket, 4); // a ring payload at a different alignment than the batch
  const rows: Row[] = [];
  const rate = (name: string, f: () => number, note?: string): void => {
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) rates.push(f());
    const r = median(rates);
    rows.push({ name, value: r, unit: 'packets/s', note: `${((r * PACKET_BYTES) / 1e6).toFixed(0)} MB/s${note ? `; ${note}` : ''}` });
  };
  rate('encode 1400 B frames, plain source', () => encodeRate(packets, plainPacket, 0));
  rate('encode 1400 B frames, shared source', () => encodeRate(packets, sharedSource, 4), 'ring -> batch (bounce when misaligned)');
  rate('decode 1400 B frames, 16 KiB chunks', () => decodeRate(packets));
  return rows;
}

// ---- route lookup --------------------------------------------------------------------

function routeRows(): Row[] {
  const rows: Row[] = [];
  for (const links of [1, 16, 253]) {
    const entries: RouteEntry[] = [];
    for (let i = 1; i <= links; i++) {
      entries.push(...linkRouteEntries(i, { serviceCidr: { network: 0x64400000 + (i - 1) * 4096, prefixLength: 20 }, clusterAddress: 0xc0a80000 + i }));
    }
    const table = new RouteTable(RouteTable.allocate());
    table.publish(entries);
    // Destinations: 45% service addresses, 45% cluster addresses, 10% misses.
    const destinations = new Uint32Array(4096);
    for (let d = 0; d < destinations.length; d++) {
      const link = 1 + (Math.imul(d, 2654435761) >>> 0) % links;
      const kind = d % 20;
      destinations[d] = kind < 9 ? 0x64400000 + (link - 1) * 4096 + (d & 4095) : kind < 18 ? 0xc0a80000 + link : 0x0afa0000 + d;
    }
    const iterations = 10_000_000;
    const times: number[] = [];
    let found = 0;
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      for (let i = 0; i < iterations; i++) if (table.lookup(destinations[i & 4095]!) >= 0) found++;
      times.push(((performance.now() - start) * 1e6) / iterations);
    }
    if (found === 0) throw new Error('route bench found nothing');
    rows.push({ name: `route lookup, ${links} link${links === 1 ? '' : 's'} (${entries.length} entries)`, value: median(times), unit: 'ns/op' });
  }
  return rows;
}

function format(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

async function main(): Promise<void> {
  const started = performance.now();
  const rows = [...(await ringRows()), ...copyRows(), ...codecRows(), ...routeRows()];
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`kubelink micro benchmarks (node ${process.version}, median of ${RUNS} runs)`);
  for (const row of rows) {
    console.log(`${row.name.padEnd(width)}  ${format(row.value).padStart(9)} ${row.unit.padEnd(10)} ${row.note ?? ''}`.trimEnd());
  }
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

await main();
