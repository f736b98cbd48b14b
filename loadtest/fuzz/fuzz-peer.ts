// The fuzzing peer, run inside a lab namespace: dials a broker with a lab certificate of the
// cluster it impersonates, does the real hello, sends the seeded hostile mix
// (hostile-frames.ts), then a keepalive: its ack proves the broker judged every frame
// before it. Prints one JSON line (FuzzPeerReport). Does nothing when merely imported.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ALPN_PROTOCOL, ControlType, MAX_FRAME_PAYLOAD, NO_CAPABILITIES, PROTOCOL_VERSION, decodeControl, encodeHello, encodeKeepalive } from '../../src/shared/wire.js';
import { FrameBatcher, FrameDecoder } from '../../src/shared/frame-codec.js';
import { parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import { hostileFrames, verdictCounts, type FuzzVerdict } from './hostile-frames.js';

export interface FuzzPeerReport {
  helloReceived: boolean;
  framesSent: number;
  sent: Record<FuzzVerdict, number>;
  /** The broker acknowledged the keepalive sent after the last frame. */
  acked: boolean;
  closedByPeer: boolean;
  error?: string;
}

const FUZZ_SEQ = 0xf0220000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' }, port: { type: 'string' }, servername: { type: 'string' },
      cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
      'peer-address': { type: 'string' }, 'peer-service-cidr': { type: 'string' },
      'local-address': { type: 'string' }, 'local-service-cidr': { type: 'string' },
      seed: { type: 'string' }, frames: { type: 'string' }, 'timeout-ms': { type: 'string', default: '60000' },
    },
  });
  const prefix = (text: string) => {
    const p = parsePrefix(text);
    if (!p.ok) throw new Error(`${text}: ${p.reason}`);
    return p.value;
  };
  const frames = hostileFrames(Number(values.seed), Number(values.frames), {
    peerAddress: parseIpv4(values['peer-address']!)!,
    peerServiceCidr: prefix(values['peer-service-cidr']!),
    localAddress: parseIpv4(values['local-address']!)!,
    localServiceCidr: prefix(values['local-service-cidr']!),
  });
  const report: FuzzPeerReport = { helloReceived: false, framesSent: 0, sent: verdictCounts([]), acked: false, closedByPeer: false };
  const socket = tls.connect({
    host: values.host!, port: Number(values.port), servername: values.servername,
    cert: readFileSync(values.cert!), key: readFileSync(values.key!), ca: readFileSync(values.ca!),
    ALPNProtocols: [ALPN_PROTOCOL], minVersion: 'TLSv1.2',
  });
  const control = Buffer.alloc(64);
  const sendControl = (length: number) => {
    const batcher = new FrameBatcher();
    batcher.append(control, 0, length);
    socket.write(batcher.take()!);
  };
  const sendAll = async () => {
    for (const frame of frames) {
      // Frames go out as written (a batcher would reject the hostile ones); respect backpressure.
      if (!socket.write(frame.bytes)) await new Promise((resolve) => socket.once('drain', resolve));
      report.framesSent++;
      report.sent[frame.verdict]++;
    }
    sendControl(encodeKeepalive(control, 0, { seq: FUZZ_SEQ, sentTimeMs: 0 }));
  };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Number(values['timeout-ms']));
    const decoder = new FrameDecoder({ maxFramePayload: MAX_FRAME_PAYLOAD }, {
      onIpPacket: () => undefined,
      onMalformed: () => undefined,
      onControl: (buf, off, len) => {
        const decoded = decodeControl(buf, off, len);
        if (!decoded.ok) return;
        if (decoded.value.type === 'hello' && !report.helloReceived) {
          report.helloReceived = true;
          sendAll().catch((err: unknown) => { report.error = String(err); });
        } else if (decoded.value.type === 'keepaliveAck' && decoded.value.seq === FUZZ_SEQ) {
          report.acked = true;
          clearTimeout(timer);
          resolve();
        } else if (decoded.value.type === 'keepalive') {
          // answer the broker's keepalives so it keeps the tunnel
          control[0] = ControlType.keepaliveAck;
          Buffer.from(buf.subarray(off + 1, off + len)).copy(control, 1);
          sendControl(len);
        }
      },
    });
    socket.on('secureConnect', () => {
      sendControl(encodeHello(control, 0, { version: PROTOCOL_VERSION, capabilities: NO_CAPABILITIES, clusterAddress: parseIpv4(values['peer-address']!)!, maxFramePayload: MAX_FRAME_PAYLOAD }));
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', (err) => { report.error = err.message; });
    socket.on('close', () => {
      report.closedByPeer = true;
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((err: unknown) => {
    process.stdout.write(JSON.stringify({ helloReceived: false, framesSent: 0, acked: false, closedByPeer: false, error: String(err) }) + '\n');
    process.exitCode = 1;
  });
}
