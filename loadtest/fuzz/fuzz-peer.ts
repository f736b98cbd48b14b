// The fuzzing peer, run inside a lab namespace: dials a broker with a lab certificate of the
// cluster it impersonates, does the real hello, sends the seeded hostile mix
// (hostile-frames.ts), then a keepalive: its ack proves the broker judged every frame
// before it. Prints one JSON line (FuzzPeerReport). Does nothing when merely imported.
// The session itself (TLS, HELLO, decoding) is loadtest/lab/scripted-peer.ts.
import { parseArgs } from 'node:util';
import { ControlType, decodeControl, encodeKeepalive } from '../../src/shared/wire.js';
import { parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import { PEER_CONNECTION_OPTIONS, runAsPeerProgram, runPeerSession } from '../lab/scripted-peer.js';
import type { PeerSession } from '../lab/scripted-peer.js';
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

async function main(): Promise<FuzzPeerReport> {
  const { values } = parseArgs({
    options: {
      ...PEER_CONNECTION_OPTIONS,
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
  const control = Buffer.alloc(64);
  const sendAll = async ({ socket, sendControl }: PeerSession) => {
    for (const frame of frames) {
      // Frames go out as written (a batcher would reject the hostile ones); respect backpressure.
      if (!socket.write(frame.bytes)) await new Promise((resolve) => socket.once('drain', resolve));
      report.framesSent++;
      report.sent[frame.verdict]++;
    }
    sendControl(control, encodeKeepalive(control, 0, { seq: FUZZ_SEQ, sentTimeMs: 0 }));
  };
  const end = await runPeerSession(values, {
    clusterAddress: parseIpv4(values['peer-address']!)!,
    waitMs: Number(values['timeout-ms']),
    onControl: (session, buf, off, len) => {
      const decoded = decodeControl(buf, off, len);
      if (!decoded.ok) return;
      if (decoded.value.type === 'hello' && !report.helloReceived) {
        report.helloReceived = true;
        sendAll(session).catch((err: unknown) => { report.error = String(err); });
      } else if (decoded.value.type === 'keepaliveAck' && decoded.value.seq === FUZZ_SEQ) {
        report.acked = true;
        session.done();
      } else if (decoded.value.type === 'keepalive') {
        // answer the broker's keepalives so it keeps the tunnel
        control[0] = ControlType.keepaliveAck;
        Buffer.from(buf.subarray(off + 1, off + len)).copy(control, 1);
        session.sendControl(control, len);
      }
    },
  });
  return { ...report, closedByPeer: end.closedByPeer, ...(end.error === undefined ? {} : { error: end.error }) };
}

runAsPeerProgram(import.meta.url, main, (error) => ({ helloReceived: false, framesSent: 0, acked: false, closedByPeer: false, error }));
