// The virtio-net header that precedes every packet on a TUN opened with vnetHdr, and the
// checks an offloaded packet passes before kubelink hands it to a TUN or cuts it up.
//
//   byte 0      1          2..3      4..5      6..7        8..9
//   +-------+----------+---------+----------+------------+-------------+------------+
//   | flags | gso_type | hdr_len | gso_size | csum_start | csum_offset | IP packet  |
//   +-------+----------+---------+----------+------------+-------------+------------+
//   16-bit fields little endian (virtio 1.0; the addon sets TUNSETVNETLE), so a record
//   read from one host's TUN is written to another host's TUN byte for byte.
//
// A super-packet (gso_type TCPV4) is one IPv4/TCP packet of up to 64 KiB whose payload the
// kernel would have cut into gso_size-byte segments; NEEDS_CSUM says the checksum at
// csum_start + csum_offset holds only the pseudo-header sum and must be completed over
// [csum_start, end). The kernel validates what it is given (and marks super-packets from
// a TUN as untrusted, SKB_GSO_DODGY), but a peer's header is checked here first, at least
// as strictly: see offloadRecordProblem.
import { ipPacketValid } from './ip-packet.js';

export const VNET_HDR_BYTES = 10;

export const VnetFlag = {
  /** Checksum at csum_start + csum_offset still to be completed. */
  needsCsum: 0x01,
  /** Checksum already verified (set on reads only; meaningless on writes). */
  dataValid: 0x02,
} as const;

export const GsoType = {
  none: 0x00,
  tcpv4: 0x01,
  udp: 0x03,
  tcpv6: 0x04,
  /** OR-ed into TCPV4/TCPV6: the flow uses ECN (CWR only on the first segment). */
  ecn: 0x80,
} as const;

/** Field offsets inside the header. */
export const VnetField = { flags: 0, gsoType: 1, hdrLen: 2, gsoSize: 4, csumStart: 6, csumOffset: 8 } as const;

/**
 * Smallest gso_size accepted from a peer. Linux never sends TCP segments below
 * tcp_min_snd_mss (48) and a 576-byte MTU still gives 536; a smaller size would only let
 * one frame turn into thousands of packets on the receiving host.
 */
export const MIN_GSO_SIZE = 48;

const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const TCP_CHECKSUM_OFFSET = 16;
const UDP_CHECKSUM_OFFSET = 6;
const TCP_MIN_HEADER_BYTES = 20;
const IPV4_FRAGMENT_MASK = 0x3fff; // MF flag + fragment offset

function readU16le(buf: Uint8Array, offset: number): number {
  return buf[offset]! | (buf[offset + 1]! << 8);
}

function writeU16le(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = value >>> 8;
}

export function gsoType(buf: Uint8Array, hdrOffset: number): number {
  return buf[hdrOffset + VnetField.gsoType]!;
}

export function gsoSize(buf: Uint8Array, hdrOffset: number): number {
  return readU16le(buf, hdrOffset + VnetField.gsoSize);
}

export function csumStart(buf: Uint8Array, hdrOffset: number): number {
  return readU16le(buf, hdrOffset + VnetField.csumStart);
}

export function csumOffset(buf: Uint8Array, hdrOffset: number): number {
  return readU16le(buf, hdrOffset + VnetField.csumOffset);
}

/** True when the packet after the header is an ordinary, fully checksummed packet. */
export function isTrivialVnetHeader(buf: Uint8Array, hdrOffset: number): boolean {
  return buf[hdrOffset + VnetField.gsoType] === GsoType.none && (buf[hdrOffset + VnetField.flags]! & VnetFlag.needsCsum) === 0;
}

/** True for a TCPv4 super-packet (with or without the ECN bit). */
export function isTcpv4Gso(buf: Uint8Array, hdrOffset: number): boolean {
  return (buf[hdrOffset + VnetField.gsoType]! & ~GsoType.ecn) === GsoType.tcpv4;
}

/** Fields of a header, for writers and tests. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function writeVnetHeader(buf: Uint8Array, offset: number, header: VnetHeader): void {
  buf[offset + VnetField.flags] = header.flags;
  buf[offset + VnetField.gsoType] = header.gsoType;
  writeU16le(buf, offset + VnetField.hdrLen, header.hdrLen);
  writeU16le(buf, offset + VnetField.gsoSize, header.gsoSize);
  writeU16le(buf, offset + VnetField.csumStart, header.csumStart);
  writeU16le(buf, offset + VnetField.csumOffset, header.csumOffset);
}

export function readVnetHeader(buf: Uint8Array, offset: number): VnetHeader {
  return {
    flags: buf[offset + VnetField.flags]!,
    gsoType: buf[offset + VnetField.gsoType]!,
    hdrLen: readU16le(buf, offset + VnetField.hdrLen),
    gsoSize: gsoSize(buf, offset),
    csumStart: csumStart(buf, offset),
    csumOffset: csumOffset(buf, offset),
  };
}

/** A header of zeros: a plain packet, nothing to do (what plain frames get on the TUN). */
export const TRIVIAL_VNET_HEADER: Readonly<Uint8Array> = new Uint8Array(VNET_HDR_BYTES);

/**
 * Bytes of IPv4 + TCP header of a TCPv4 super-packet whose record passed
 * offloadRecordProblem (the part every segment repeats).
 */
export function tcpv4HeaderBytes(buf: Uint8Array, packetOffset: number): number {
  const ipHeaderBytes = (buf[packetOffset]! & 0x0f) * 4;
  return ipHeaderBytes + (buf[packetOffset + ipHeaderBytes + 12]! >>> 4) * 4;
}

/** Segments a TCPv4 super-packet turns into (1 for anything else). */
export function gsoSegmentCount(buf: Uint8Array, hdrOffset: number, recordLength: number): number {
  if (!isTcpv4Gso(buf, hdrOffset)) return 1;
  const packetOffset = hdrOffset + VNET_HDR_BYTES;
  const payload = recordLength - VNET_HDR_BYTES - tcpv4HeaderBytes(buf, packetOffset);
  const size = gsoSize(buf, hdrOffset);
  return payload <= 0 || size === 0 ? 1 : Math.ceil(payload / size);
}

/**
 * Why the record [virtio_net_hdr][IP packet] at `offset` (length = header + packet) may
 * not be written to a TUN, or undefined when it may. Accepted, and nothing else:
 * - a valid IPv4 packet (header inside, total length = packet length); IPv6 is not routed;
 * - flags 0 or NEEDS_CSUM (DATA_VALID is a receive-side hint a sender must not forward);
 * - NEEDS_CSUM only for an unfragmented TCP or UDP packet, csum_start = the IP header
 *   length, csum_offset = that protocol's checksum field, the field inside the packet;
 * - gso_type NONE (gso_size 0), or TCPV4 (optionally | ECN) with: protocol TCP, not a
 *   fragment, NEEDS_CSUM as above, a TCP header (data offset >= 5) inside the packet,
 *   gso_size >= MIN_GSO_SIZE;
 * - hdr_len at most the packet length (the kernel refuses more).
 */
export function offloadRecordProblem(buf: Uint8Array, offset: number, length: number): string | undefined {
  const packetOffset = offset + VNET_HDR_BYTES;
  const packetLength = length - VNET_HDR_BYTES;
  if (packetLength < 1 || !ipPacketValid(buf, packetOffset, packetLength)) return 'not a valid IP packet';
  if (buf[packetOffset]! >>> 4 !== 4) return 'not IPv4';
  const flags = buf[offset + VnetField.flags]!;
  if ((flags & ~VnetFlag.needsCsum) !== 0) return `flags 0x${flags.toString(16)}`;
  if (readU16le(buf, offset + VnetField.hdrLen) > packetLength) return 'hdr_len beyond the packet';
  const type = buf[offset + VnetField.gsoType]!;
  const ipHeaderBytes = (buf[packetOffset]! & 0x0f) * 4;
  const protocol = buf[packetOffset + 9]!;
  const fragmented = (((buf[packetOffset + 6]! << 8) | buf[packetOffset + 7]!) & IPV4_FRAGMENT_MASK) !== 0;
  if (flags & VnetFlag.needsCsum) {
    const start = csumStart(buf, offset);
    const field = csumOffset(buf, offset);
    if (fragmented) return 'checksum offload on a fragment';
    if (start !== ipHeaderBytes) return 'csum_start is not the transport header';
    if (protocol === IP_PROTO_TCP ? field !== TCP_CHECKSUM_OFFSET : protocol !== IP_PROTO_UDP || field !== UDP_CHECKSUM_OFFSET) {
      return `csum_offset ${field} for protocol ${protocol}`;
    }
    if (start + field + 2 > packetLength) return 'checksum field beyond the packet';
  }
  if (type === GsoType.none) return gsoSize(buf, offset) === 0 ? undefined : 'gso_size without gso_type';
  if ((type & ~GsoType.ecn) !== GsoType.tcpv4) return `gso_type 0x${type.toString(16)}`;
  if (protocol !== IP_PROTO_TCP) return 'TCPV4 offload of a non-TCP packet';
  if (fragmented) return 'TCPV4 offload of a fragment';
  if ((flags & VnetFlag.needsCsum) === 0) return 'TCPV4 offload without NEEDS_CSUM';
  if (ipHeaderBytes + TCP_MIN_HEADER_BYTES > packetLength) return 'TCP header beyond the packet';
  const tcpHeaderBytes = (buf[packetOffset + ipHeaderBytes + 12]! >>> 4) * 4;
  if (tcpHeaderBytes < TCP_MIN_HEADER_BYTES || ipHeaderBytes + tcpHeaderBytes > packetLength) return 'bad TCP data offset';
  if (gsoSize(buf, offset) < MIN_GSO_SIZE) return `gso_size ${gsoSize(buf, offset)} below ${MIN_GSO_SIZE}`;
  return undefined;
}
