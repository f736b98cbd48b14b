// The bench's `tls` path: what Node's own TLS carries on this machine, as the ceiling a
// Node data path can reach. The receiver listens in one gateway namespace; the sender, in
// another, opens N TLS 1.3 connections over the lab's "internet", writes 64 KiB buffers
// for the given time, then half-closes. The receiver answers each connection with one
// JSON line (bytes received, seconds from first to last byte, its own CPU seconds); the
// sender prints one JSON summary (TlsStreamReport) on stdout.
//
//   node tls-stream.js receive --host IP --port P --cert F --key F --ca F [--ciphers LIST]
//   node tls-stream.js send --host IP --port P --servername NAME --cert F --key F --ca F
//                           --seconds S [--streams N] [--write-bytes 65536] [--ciphers LIST]
// --ciphers: TLS 1.3 suites (TLS_...), most preferred first; the receiver's order decides.
//
// The receiver runs until killed; every connection is measured on its own.

import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface TlsStreamReport {
  /** Bytes the receiver got, summed over the connections. */
  bytes: number;
  /** Longest first-to-last-byte time of a connection, seconds. */
  seconds: number;
  /** Received bits per second (bytes * 8 / seconds). */
  bitsPerSecond: number;
  /** CPU seconds (user + system) of the sending process while it sent. */
  senderCpuSec: number;
  /** CPU seconds of the receiving process while these connections ran. */
  receiverCpuSec: number;
  /** Cipher negotiated (the same on every connection). */
  cipher: string;
  protocol: string;
}

interface ReceiverLine {
  bytes: number;
  seconds: number;
  cpuSec: number;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function tlsFiles(values: { cert?: string; key?: string; ca?: string }): { cert: Buffer; key: Buffer; ca: Buffer } {
  if (!values.cert || !values.key || !values.ca) throw new Error('--cert, --key and --ca are required');
  return { cert: readFileSync(values.cert), key: readFileSync(values.key), ca: readFileSync(values.ca) };
}

/** `ciphers` for Node: TLS 1.3 suites first (the accepting side's order decides in TLS 1.3). */
function cipherOptions(ciphers: string | undefined): tls.SecureContextOptions {
  return ciphers ? { ciphers, honorCipherOrder: true } : {};
}

function receive(host: string, port: number, files: { cert: Buffer; key: Buffer; ca: Buffer }, ciphers: string | undefined): void {
  const server = tls.createServer({ ...files, ...cipherOptions(ciphers), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
    const cpuStart = process.cpuUsage();
    let bytes = 0;
    let first = 0n;
    let last = 0n;
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) first = process.hrtime.bigint();
      bytes += chunk.length;
      last = process.hrtime.bigint();
    });
    socket.on('end', () => {
      const line: ReceiverLine = { bytes, seconds: Number(last - first) / 1e9, cpuSec: cpuSecondsSince(cpuStart) };
      socket.end(JSON.stringify(line) + '\n');
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, host, () => process.stdout.write(`tls-stream: receiving on ${host}:${port}\n`));
}

/** One connection: writes `writeBytes` buffers until `seconds` pass, then waits for the receiver's line. */
function sendOne(options: tls.ConnectionOptions, seconds: number, writeBytes: number): Promise<{ line: ReceiverLine; cipher: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.alloc(writeBytes, 0x5a);
    const socket = tls.connect(options);
    let reply = '';
    let cipher = '';
    let protocol = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (text: string) => (reply += text));
    socket.on('end', () => {
      try {
        resolve({ line: JSON.parse(reply.trim()) as ReceiverLine, cipher, protocol });
      } catch (error) {
        reject(new Error(`receiver answered ${JSON.stringify(reply.slice(0, 200))}`, { cause: error }));
      }
    });
    socket.once('secureConnect', () => {
      cipher = socket.getCipher().standardName;
      protocol = socket.getProtocol() ?? '';
      const deadline = Date.now() + seconds * 1000;
      const pump = (): void => {
        while (Date.now() < deadline) {
          if (!socket.write(payload)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
  });
}

async function send(values: Record<string, string | undefined>, files: { cert: Buffer; key: Buffer; ca: Buffer }): Promise<TlsStreamReport> {
  const seconds = Number(values.seconds);
  const streams = Number(values.streams ?? '1');
  const writeBytes = Number(values['write-bytes'] ?? String(64 * 1024));
  if (!(seconds > 0)) throw new Error(`--seconds ${values.seconds}: expected a positive number`);
  if (!Number.isInteger(streams) || streams < 1) throw new Error(`--streams ${values.streams}: expected a positive integer`);
  if (!Number.isInteger(writeBytes) || writeBytes < 1) throw new Error(`--write-bytes ${values['write-bytes']}: expected a positive integer`);
  const options: tls.ConnectionOptions = {
    ...files,
    host: values.host,
    port: Number(values.port),
    servername: values.servername,
    minVersion: 'TLSv1.3',
    ...cipherOptions(values.ciphers),
  };
  const cpuStart = process.cpuUsage();
  const results = await Promise.all(Array.from({ length: streams }, () => sendOne(options, seconds, writeBytes)));
  const senderCpuSec = cpuSecondsSince(cpuStart);
  const bytes = results.reduce((sum, r) => sum + r.line.bytes, 0);
  const longest = Math.max(...results.map((r) => r.line.seconds));
  return {
    bytes,
    seconds: longest,
    bitsPerSecond: longest > 0 ? (bytes * 8) / longest : 0,
    senderCpuSec,
    // Each connection reports the receiver's CPU over its own life; they overlap, so the
    // longest is the receiver's CPU for the whole test.
    receiverCpuSec: Math.max(...results.map((r) => r.line.cpuSec)),
    cipher: results[0]!.cipher,
    protocol: results[0]!.protocol,
  };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      servername: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      seconds: { type: 'string' },
      streams: { type: 'string' },
      'write-bytes': { type: 'string' },
      ciphers: { type: 'string' },
    },
  });
  if (!values.host || !values.port) throw new Error('--host and --port are required');
  const files = tlsFiles(values);
  if (mode === 'receive') receive(values.host, Number(values.port), files, values.ciphers);
  else if (mode === 'send') process.stdout.write(JSON.stringify(await send(values, files)) + '\n');
  else throw new Error(`mode ${JSON.stringify(mode)}: expected receive or send`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    process.stderr.write(`tls-stream: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
