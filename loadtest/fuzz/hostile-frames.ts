// The fuzzing peer's traffic: a seeded, reproducible mix of frames a peer holding a valid
// certificate could send, each with the one verdict the receiving broker must reach
// ('pass', or the drop / malformed reason it must count). Pure: the same seed and
// addresses always give the same bytes.
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../src/shared/wire.js';

export type FuzzVerdict =
  | 'pass'
  | 'spoofed-source'
  | 'foreign-destination'
  | 'ipv6-unsupported'
  | 'empty'
  | 'unknown-type'
  | 'truncated';

/** Drop reasons (kubelink_dropped_packets_total) and malformed reasons (kubelink_malformed_frames_total). */
export const DROP_VERDICTS = ['spoofed-source', 'foreign-destination', 'ipv6-unsupported'] as const;
export const MALFORMED_VERDICTS = ['empty', 'unknown-type', 'truncated'] as const;

export interface FuzzAddresses {
  /** The fuzzing peer's (impersonated) cluster address and service CIDR. */
  peerAddress: number;
  peerServiceCidr: { network: number; prefixLength: number };
  /** The target broker's cluster address and local service CIDR. */
  localAddress: number;
  localServiceCidr: { network: number; prefixLength: number };
}

/** mulberry32: small, fast, and the same on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inPrefix(address: number, p: { network: number; prefixLength: number }): boolean {
  const mask = p.prefixLength === 0 ? 0 : (0xffffffff << (32 - p.prefixLength)) >>> 0;
  return ((address & mask) >>> 0) === p.network;
}

function ipChecksum(p: Buffer, headerBytes: number): number {
  let sum = 0;
  for (let i = 0; i < headerBytes; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A UDP datagram with a correct IP header checksum (the kernel drops others before any rule sees them). */
export function udpPacket(src: number, dst: number, payloadBytes: number, port = 9): Buffer {
  const total = 20 + 8 + payloadBytes;
  const p = Buffer.alloc(total, 0x6b);
  p[0] = 0x45;
  p[1] = 0;
  p.writeUInt16BE(total, 2);
  p.writeUInt32BE(0, 4);
  p[8] = 64;
  p[9] = 17;
  p.writeUInt16BE(0, 10);
  p.writeUInt32BE(src >>> 0, 12);
  p.writeUInt32BE(dst >>> 0, 16);
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(ipChecksum(p, 20), 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(port, 22);
  p.writeUInt16BE(8 + payloadBytes, 24);
  p.writeUInt16BE(0, 26); // no UDP checksum (allowed in IPv4)
  return p;
}

function framed(payload: Buffer): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** One frame (header included) and the verdict it must get. */
export interface FuzzFrame {
  bytes: Buffer;
  verdict: FuzzVerdict;
}

/** `count` frames of the seeded mix. Every category appears; sizes, addresses and bytes vary. */
export function hostileFrames(seed: number, count: number, a: FuzzAddresses): FuzzFrame[] {
  const random = seededRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const randomAddress = (ok: (x: number) => boolean): number => {
    for (;;) {
      const x = int(0, 0xffffffff) >>> 0;
      if (ok(x)) return x;
    }
  };
  const localService = () => (a.localServiceCidr.network + int(1, 2 ** (32 - a.localServiceCidr.prefixLength) - 2)) >>> 0;
  const frames: FuzzFrame[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i < 7 ? i : int(0, 6);
    switch (kind) {
      case 0: // a request the broker must pass: our cluster address to a local service IP
        frames.push({ bytes: framed(udpPacket(a.peerAddress, localService(), int(0, 1200))), verdict: 'pass' });
        break;
      case 1: { // spoofed: a source neither the peer's cluster address nor its service CIDR
        const src = randomAddress((x) => x !== a.peerAddress && !inPrefix(x, a.peerServiceCidr));
        frames.push({ bytes: framed(udpPacket(src, random() < 0.5 ? localService() : a.localAddress, int(0, 600))), verdict: 'spoofed-source' });
        break;
      }
      case 2: { // foreign: to anything but our service CIDR and cluster address (nodes, pods, the internet)
        const dst = randomAddress((x) => x !== a.localAddress && !inPrefix(x, a.localServiceCidr));
        frames.push({ bytes: framed(udpPacket(a.peerAddress, dst, int(0, 600))), verdict: 'foreign-destination' });
        break;
      }
      case 3: { // IPv6: a header with a consistent payload length
        const payload = int(0, 200);
        const p = Buffer.alloc(40 + payload, 0x36);
        p[0] = 0x60;
        p.writeUInt16BE(payload, 4);
        p[6] = 17;
        frames.push({ bytes: framed(p), verdict: 'ipv6-unsupported' });
        break;
      }
      case 4: // an empty frame
        frames.push({ bytes: framed(Buffer.alloc(0)), verdict: 'empty' });
        break;
      case 5: { // neither IP nor a control type: random types, absurd virtio-net headers (0x10 without gso)
        const p = Buffer.alloc(int(1, 300));
        for (let j = 0; j < p.length; j++) p[j] = int(0, 255);
        const types = [0x00, 0x04, 0x0f, 0x10, 0x11, 0x20, 0x3f, 0x7f, 0x80, 0xff];
        p[0] = types[int(0, types.length - 1)]!;
        frames.push({ bytes: framed(p), verdict: 'unknown-type' });
        break;
      }
      default: { // IPv4 that lies about its length, or a header cut short
        const p = udpPacket(a.peerAddress, localService(), int(0, 300));
        if (random() < 0.5) p.writeUInt16BE(p.length + int(1, 30_000), 2);
        else p[0] = 0x40 + int(0, 4);
        frames.push({ bytes: framed(p), verdict: 'truncated' });
        break;
      }
    }
  }
  return frames;
}

/** How many frames of each verdict `frames` holds. */
export function verdictCounts(frames: readonly FuzzFrame[]): Record<FuzzVerdict, number> {
  const out: Record<FuzzVerdict, number> = { pass: 0, 'spoofed-source': 0, 'foreign-destination': 0, 'ipv6-unsupported': 0, empty: 0, 'unknown-type': 0, truncated: 0 };
  for (const f of frames) out[f.verdict]++;
  return out;
}
