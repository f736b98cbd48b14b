// Hand-built IP packets for the data-plane tests (not a test itself; `node --test` runs
// it and finds nothing to do).
import { parseIpv4 } from '../../src/shared/cidr.js';

export interface Ipv4PacketSpec {
  source: string;
  destination: string;
  /** Total length (header + payload). Default 60. */
  length?: number;
  /** Header length in 32-bit words. Default 5. */
  ihl?: number;
  /** Value of the total-length field when it should lie. Default `length`. */
  totalLengthField?: number;
  /** IP protocol number. Default 17 (UDP). */
  protocol?: number;
  /** TCP/UDP destination port (written after the header); for ICMP: the type. Default: filler bytes. */
  destinationPort?: number;
  icmpType?: number;
  /** Fragment offset in 8-byte units. Default 0. */
  fragmentOffset?: number;
}

function address(text: string): number {
  const value = parseIpv4(text);
  if (value === undefined) throw new Error(`bad test address ${text}`);
  return value;
}

export function ipv4Packet(spec: Ipv4PacketSpec): Buffer {
  const length = spec.length ?? 60;
  const packet = Buffer.alloc(length);
  packet[0] = 0x40 | (spec.ihl ?? 5);
  if (length >= 4) packet.writeUInt16BE(spec.totalLengthField ?? length, 2);
  if (length >= 20) {
    packet[8] = 64; // TTL
    packet[9] = spec.protocol ?? 17; // UDP
    packet.writeUInt16BE((spec.fragmentOffset ?? 0) & 0x1fff, 6);
    packet.writeUInt32BE(address(spec.source), 12);
    packet.writeUInt32BE(address(spec.destination), 16);
  }
  for (let i = 20; i < length; i++) packet[i] = i & 0xff;
  const l4 = (spec.ihl ?? 5) * 4;
  if (spec.destinationPort !== undefined && length >= l4 + 4) packet.writeUInt16BE(spec.destinationPort, l4 + 2);
  if (spec.icmpType !== undefined && length > l4) packet[l4] = spec.icmpType;
  return packet;
}

/** An IPv6 packet with `payloadLength` bytes after the 40-byte header. */
export function ipv6Packet(payloadLength: number, payloadLengthField = payloadLength): Buffer {
  const packet = Buffer.alloc(40 + payloadLength);
  packet[0] = 0x60;
  packet.writeUInt16BE(payloadLengthField, 4);
  packet[6] = 17;
  packet[7] = 64;
  return packet;
}
