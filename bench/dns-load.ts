// The DNS load generator of the DNS benchmark, run inside a lab pod: asks one server a
// series of queries over UDP and reports latency percentiles and throughput as one JSON
// line. Bounded in count and time.
//
//   node dns-load.js --server IP[:PORT] --name NAME [--unique] --count N --concurrency C
//     --unique: query <i>.<NAME> (every query a cache miss) instead of NAME every time
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';

export interface LoadReport {
  count: number;
  answered: number;
  /** Queries without an answer within 2 s. */
  lost: number;
  p50Ms: number;
  p99Ms: number;
  qps: number;
  rcodes: Record<string, number>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' }, name: { type: 'string' }, unique: { type: 'boolean', default: false },
      count: { type: 'string', default: '500' }, concurrency: { type: 'string', default: '1' },
    },
  });
  const [ip, portText] = values.server!.split(':');
  const port = Number(portText ?? 53);
  const count = Math.min(Number(values.count), 20_000);
  const concurrency = Math.max(1, Math.min(Number(values.concurrency), 256));
  const socket = dgram.createSocket('udp4');
  const pending = new Map<number, { sent: number; done: (ms: number | undefined, rcode?: number) => void }>();
  socket.on('message', (msg) => {
    const entry = pending.get(msg.readUInt16BE(0));
    if (!entry) return;
    pending.delete(msg.readUInt16BE(0));
    entry.done(performance.now() - entry.sent, msg[3]! & 0xf);
  });
  const latencies: number[] = [];
  const rcodes: Record<string, number> = {};
  let lost = 0;
  let next = 0;
  const ask = (i: number) =>
    new Promise<void>((resolve) => {
      const id = i & 0xffff;
      const name = values.unique ? `q${i}-${process.pid}.${values.name}` : values.name!;
      const timer = setTimeout(() => {
        pending.delete(id);
        lost++;
        resolve();
      }, 2000);
      pending.set(id, {
        sent: performance.now(),
        done: (ms, rcode) => {
          clearTimeout(timer);
          latencies.push(ms!);
          rcodes[String(rcode)] = (rcodes[String(rcode)] ?? 0) + 1;
          resolve();
        },
      });
      socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A' }] }), port, ip);
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await ask(next++);
  }));
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const report: LoadReport = { count, answered: latencies.length, lost, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), qps: latencies.length / seconds, rcodes };
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1]?.endsWith('dns-load.js')) await main();
