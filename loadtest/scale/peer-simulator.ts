// Many kubelink peers in one process, cheap enough for 252 of them on a 2-vCPU machine:
// each peer has its own certificate, listen address, cluster address and service CIDR,
// accepts the broker's mutual-TLS dial, speaks the real wire format (src/shared/wire.ts,
// frame-codec.ts: HELLO, keepalive acks) and answers ICMP echo requests to its service
// CIDR or cluster address through its tunnel, in user space. It never dials: the broker's
// dialing (and its pacing) is what the scale lab measures.
//
//   node dist/loadtest/scale/peer-simulator.js CONFIG.json
//
// CONFIG is a SimulatorConfig. It prints {"ready":N} once every peer listens. Commands on
// stdin, one per line: `silence I` (peer I stops answering anything, its TCP connection
// stays open: a hung peer), `resume I`, `exit`.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { FrameBatcher, FrameDecoder } from '../../src/shared/frame-codec.js';
import { ALPN_PROTOCOL, MAX_FRAME_PAYLOAD, NO_CAPABILITIES, PROTOCOL_VERSION, decodeControl, encodeHello, encodeKeepaliveAck } from '../../src/shared/wire.js';
import { parseInterface, parsePrefix, prefixContains } from '../../src/shared/cidr.js';
import type { Ipv4Prefix } from '../../src/shared/types.js';
import { icmpEchoReply } from './icmp-echo.js';

export interface SimulatedPeerConfig {
  index: number;
  /** Listen address (also the endpoint host the broker dials and the certificate's IP SAN). */
  listenIp: string;
  port: number;
  certPem: string;
  keyPem: string;
  /** e.g. 192.168.0.7/24 */
  clusterAddress: string;
  /** e.g. 100.80.5.0/24 */
  serviceCidr: string;
}

export interface SimulatorConfig {
  caPem: string;
  peers: SimulatedPeerConfig[];
}

interface Peer {
  config: SimulatedPeerConfig;
  clusterAddress: number;
  serviceCidr: Ipv4Prefix;
  silent: boolean;
  server: tls.Server;
}

function serve(peer: Peer, socket: tls.TLSSocket): void {
  const batcher = new FrameBatcher({ batchBytes: 16 * 1024 });
  const scratch = Buffer.alloc(64);
  const flush = () => {
    const batch = batcher.take();
    if (batch && !socket.destroyed) socket.write(batch);
  };
  const len = encodeHello(scratch, 0, { version: PROTOCOL_VERSION, capabilities: NO_CAPABILITIES, clusterAddress: peer.clusterAddress, maxFramePayload: MAX_FRAME_PAYLOAD });
  batcher.append(scratch, 0, len);
  flush();
  const decoder = new FrameDecoder({ maxFramePayload: MAX_FRAME_PAYLOAD }, {
    onIpPacket: (buf, offset, length) => {
      if (peer.silent) return;
      const reply = icmpEchoReply(buf, offset, length, (dst) => dst === peer.clusterAddress || prefixContains(peer.serviceCidr, dst));
      if (reply) batcher.append(reply, 0, reply.length);
    },
    onControl: (buf, offset, length) => {
      if (peer.silent) return;
      const frame = decodeControl(buf, offset, length);
      if (frame.ok && frame.value.type === 'keepalive') {
        const n = encodeKeepaliveAck(scratch, 0, frame.value);
        batcher.append(scratch, 0, n);
      }
    },
    onMalformed: () => undefined,
  });
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    flush();
  });
  socket.on('error', () => socket.destroy());
}

function parseConfig(file: string): Peer[] {
  const config = JSON.parse(readFileSync(file, 'utf8')) as SimulatorConfig;
  return config.peers.map((p) => {
    const address = parseInterface(p.clusterAddress);
    const cidr = parsePrefix(p.serviceCidr);
    if (!address.ok || !cidr.ok) throw new Error(`peer ${p.index}: bad clusterAddress or serviceCidr`);
    const peer: Peer = { config: p, clusterAddress: address.value.address, serviceCidr: cidr.value, silent: false, server: undefined as unknown as tls.Server };
    peer.server = tls.createServer(
      { cert: p.certPem, key: p.keyPem, ca: config.caPem, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [ALPN_PROTOCOL], minVersion: 'TLSv1.2' },
      (socket) => serve(peer, socket),
    );
    // One line per failed handshake in simulator.log: the peer's side of a broker's handshake failure.
    peer.server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: 'handshake failed', peer: p.index, error: err.message, code: err.code })}\n`);
    });
    return peer;
  });
}

async function main(configFile: string): Promise<void> {
  const peers = parseConfig(configFile);
  await Promise.all(peers.map((p) => new Promise<void>((resolve, reject) => {
    p.server.once('error', reject);
    p.server.listen(p.config.port, p.config.listenIp, () => resolve());
  })));
  process.stdout.write(`${JSON.stringify({ ready: peers.length })}\n`);
  const byIndex = new Map(peers.map((p) => [p.config.index, p]));
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, arg] = line.trim().split(/\s+/);
    const peer = byIndex.get(Number(arg));
    if (command === 'silence' && peer) peer.silent = true;
    else if (command === 'resume' && peer) peer.silent = false;
    else if (command === 'exit') break;
    else process.stderr.write(`peer-simulator: unknown command ${JSON.stringify(line)}\n`);
  }
  process.exit(0);
}

if (process.argv[1]?.endsWith('peer-simulator.js')) {
  main(process.argv[2] ?? '').catch((err: unknown) => {
    process.stderr.write(`peer-simulator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
