// Hand-built IPv4/TCP packets and virtio-net records for the offload tests, with their own
// checksum code (independent of src/shared/gso-segment.ts, which they check). Not a test
// itself; `node --test` runs it and finds nothing to do.
import { parseIpv4 } from '../../src/shared/cidr.js';

export const TCP_FLAG = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, ece: 0x40, cwr: 0x80 } as const;

export interface TcpPacketSpec {
  source: string;
  destination: string;
  sourcePort?: number;
  destinationPort?: number;
  seq?: number;
  ack?: number;
  /** TCP flags byte. Default ACK | PSH. */
  flags?: number;
  /** IPv4 identification. Default 0x1234. */
  id?: number;
  /** TCP options (padded to 4 bytes by the caller). Default none. */
  options?: Uint8Array;
  payload?: Uint8Array;
  window?: number;
  /**
   * 'full': correct checksum; 'partial': the pseudo-header sum only, as the kernel leaves
   * it for NEEDS_CSUM (what a TUN with offloads hands out). Default 'full'.
   */
  checksum?: 'full' | 'partial';
}

function address(text: string): number {
  const value = parseIpv4(text);
  if (value === undefined) throw new Error(`bad test address ${text}`);
  return value;
}

/** Plain one's-complement sum of 16-bit big-endian words, folded. */
export function checksum16(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (i + 1 < bytes.length ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function pseudoHeaderSum(packet: Buffer, tcpLength: number): number {
  return checksum16(packet.subarray(12, 20), 6 + tcpLength);
}

/** An IPv4 packet (DF, TTL 64) carrying one TCP segment. */
export function tcpv4Packet(spec: TcpPacketSpec): Buffer {
  const options = spec.options ?? new Uint8Array(0);
  const payload = spec.payload ?? new Uint8Array(0);
  const tcpHeaderBytes = 20 + options.length;
  const length = 20 + tcpHeaderBytes + payload.length;
  const packet = Buffer.alloc(length);
  packet[0] = 0x45;
  packet.writeUInt16BE(length, 2);
  packet.writeUInt16BE(spec.id ?? 0x1234, 4);
  packet.writeUInt16BE(0x4000, 6); // DF
  packet[8] = 64;
  packet[9] = 6;
  packet.writeUInt32BE(address(spec.source), 12);
  packet.writeUInt32BE(address(spec.destination), 16);
  packet.writeUInt16BE(~checksum16(packet.subarray(0, 20)) & 0xffff, 10);
  const tcp = 20;
  packet.writeUInt16BE(spec.sourcePort ?? 40000, tcp);
  packet.writeUInt16BE(spec.destinationPort ?? 5201, tcp + 2);
  packet.writeUInt32BE((spec.seq ?? 1000) >>> 0, tcp + 4);
  packet.writeUInt32BE((spec.ack ?? 0) >>> 0, tcp + 8);
  packet[tcp + 12] = (tcpHeaderBytes / 4) << 4;
  packet[tcp + 13] = spec.flags ?? TCP_FLAG.ack | TCP_FLAG.psh;
  packet.writeUInt16BE(spec.window ?? 65535, tcp + 14);
  packet.set(options, tcp + 20);
  packet.set(payload, tcp + tcpHeaderBytes);
  const tcpLength = length - 20;
  const pseudo = pseudoHeaderSum(packet, tcpLength);
  if (spec.checksum === 'partial') packet.writeUInt16BE(pseudo, tcp + 16);
  else packet.writeUInt16BE(~checksum16(packet.subarray(tcp), pseudo) & 0xffff, tcp + 16);
  return packet;
}

/** True when the IPv4 header checksum and the TCP checksum of `packet` verify. */
export function tcpv4ChecksumsValid(packet: Uint8Array): boolean {
  const ipHeaderBytes = (packet[0]! & 0x0f) * 4;
  if (checksum16(packet.subarray(0, ipHeaderBytes)) !== 0xffff) return false;
  const buf = Buffer.from(packet);
  return checksum16(buf.subarray(ipHeaderBytes), pseudoHeaderSum(buf, buf.length - ipHeaderBytes)) === 0xffff;
}

/** Deterministic payload bytes. */
export function payloadBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 131 + i * 7 + (i >>> 8)) & 0xff;
  return out;
}

export interface VnetSpec {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}

/** [virtio_net_hdr (little endian)][packet]. */
export function vnetRecord(header: VnetSpec, packet: Uint8Array): Buffer {
  const out = Buffer.alloc(10 + packet.length);
  out[0] = header.flags ?? 0;
  out[1] = header.gsoType ?? 0;
  out.writeUInt16LE(header.hdrLen ?? 0, 2);
  out.writeUInt16LE(header.gsoSize ?? 0, 4);
  out.writeUInt16LE(header.csumStart ?? 0, 6);
  out.writeUInt16LE(header.csumOffset ?? 0, 8);
  out.set(packet, 10);
  return out;
}

/** The header a TUN with TSO gives a TCPv4 super-packet of `packet` (20-byte IP header). */
export function superPacketRecord(packet: Uint8Array, gsoSize: number, gsoType = 0x01): Buffer {
  const tcpHeaderBytes = (packet[20 + 12]! >>> 4) * 4;
  return vnetRecord({ flags: 1, gsoType, hdrLen: 20 + tcpHeaderBytes, gsoSize, csumStart: 20, csumOffset: 16 }, packet);
}
