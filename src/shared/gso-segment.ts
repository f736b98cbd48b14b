// Software offload for peers that cannot take super-packets: cut a TCPv4 super-packet into
// the segments the kernel would have sent (tcp_gso_segment + inet_gso_segment), and
// complete a partial (NEEDS_CSUM) checksum. Slow path only: a peer that announced `gso`
// gets the super-packet as it is.
//
// Per segment i of n (payload cut every gso_size bytes):
//   IPv4  total length, id = first id + i, header checksum recomputed
//   TCP   seq = first seq + i * gso_size; FIN and PSH only on the last segment, CWR only on
//         the first; checksum over pseudo-header (src, dst, proto 6, TCP length) + segment
import { VNET_HDR_BYTES, VnetField, csumOffset, csumStart, gsoSize, tcpv4HeaderBytes } from './gso-header.js';

export interface SegmentSink {
  /** One finished IPv4 packet; the view is valid during the call only. */
  onSegment(buf: Uint8Array, offset: number, length: number): void;
}

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
const IP_PROTO_TCP = 6;

/** Adds bytes [start, end) as big-endian 16-bit words to `sum` (not folded; an odd tail byte is padded). */
export function onesComplementAdd(buf: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  const even = end - ((end - start) & 1);
  // Unfolded partial sums stay far below 2^53 for any packet size.
  for (; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds a sum to 16 bits (end-around carry). */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

function writeU16be(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value & 0xff;
}

function readU16be(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

/** Recomputes the IPv4 header checksum in place. */
export function setIpv4HeaderChecksum(buf: Uint8Array, packetOffset: number): void {
  const headerBytes = (buf[packetOffset]! & 0x0f) * 4;
  writeU16be(buf, packetOffset + 10, 0);
  writeU16be(buf, packetOffset + 10, ~foldChecksum(onesComplementAdd(buf, packetOffset, packetOffset + headerBytes, 0)) & 0xffff);
}

/**
 * Computes the TCP checksum of an IPv4/TCP packet from scratch and stores it; the packet
 * is [packetOffset, packetOffset + packetLength) with its IP header.
 */
export function setTcpv4Checksum(buf: Uint8Array, packetOffset: number, packetLength: number): void {
  const ipHeaderBytes = (buf[packetOffset]! & 0x0f) * 4;
  const tcpOffset = packetOffset + ipHeaderBytes;
  writeU16be(buf, tcpOffset + 16, 0);
  let sum = onesComplementAdd(buf, packetOffset + 12, packetOffset + 20, 0); // source, destination
  sum += IP_PROTO_TCP + (packetLength - ipHeaderBytes);
  sum = onesComplementAdd(buf, tcpOffset, packetOffset + packetLength, sum);
  writeU16be(buf, tcpOffset + 16, ~foldChecksum(sum) & 0xffff);
}

/**
 * Completes a NEEDS_CSUM checksum in place, as the kernel's skb_checksum_help does: the
 * field at csumStart + csumOffset holds the pseudo-header sum; sum [csumStart, end),
 * fold, complement (0 becomes 0xffff).
 */
export function completeChecksum(buf: Uint8Array, packetOffset: number, packetLength: number, csumStart: number, csumOffset: number): void {
  const sum = onesComplementAdd(buf, packetOffset + csumStart, packetOffset + packetLength, 0);
  writeU16be(buf, packetOffset + csumStart + csumOffset, ~foldChecksum(sum) & 0xffff || 0xffff);
}

export class Tcpv4Segmenter {
  /** Where each segment is built; a segment is never longer than the super-packet. */
  private readonly scratch = new Uint8Array(0x10000);

  /**
   * Cuts the record [virtio_net_hdr][TCPv4 super-packet] at `hdrOffset` (which passed
   * offloadRecordProblem, gso_type TCPV4) into segments handed to `sink` in order.
   * Returns the number of segments.
   */
  segment(buf: Uint8Array, hdrOffset: number, recordLength: number, sink: SegmentSink): number {
    const packetOffset = hdrOffset + VNET_HDR_BYTES;
    const packetLength = recordLength - VNET_HDR_BYTES;
    const ipHeaderBytes = (buf[packetOffset]! & 0x0f) * 4;
    const headerBytes = tcpv4HeaderBytes(buf, packetOffset);
    const payloadBytes = packetLength - headerBytes;
    const mss = gsoSize(buf, hdrOffset);
    const count = payloadBytes <= mss ? 1 : Math.ceil(payloadBytes / mss);
    const firstId = readU16be(buf, packetOffset + 4);
    const tcp = packetOffset + ipHeaderBytes;
    const firstSeq = ((buf[tcp + 4]! << 24) | (buf[tcp + 5]! << 16) | (buf[tcp + 6]! << 8) | buf[tcp + 7]!) >>> 0;
    const flags = buf[tcp + 13]!;
    const out = this.scratch;
    const outTcp = ipHeaderBytes;
    for (let i = 0; i < count; i++) {
      const payloadStart = i * mss;
      const segmentPayload = Math.min(mss, payloadBytes - payloadStart);
      const segmentLength = headerBytes + segmentPayload;
      out.set(buf.subarray(packetOffset, packetOffset + headerBytes), 0);
      out.set(buf.subarray(packetOffset + headerBytes + payloadStart, packetOffset + headerBytes + payloadStart + segmentPayload), headerBytes);
      writeU16be(out, 2, segmentLength);
      writeU16be(out, 4, (firstId + i) & 0xffff);
      setIpv4HeaderChecksum(out, 0);
      const seq = (firstSeq + payloadStart) >>> 0;
      out[outTcp + 4] = seq >>> 24;
      out[outTcp + 5] = (seq >>> 16) & 0xff;
      out[outTcp + 6] = (seq >>> 8) & 0xff;
      out[outTcp + 7] = seq & 0xff;
      let segmentFlags = flags;
      if (i < count - 1) segmentFlags &= ~(TCP_FIN | TCP_PSH);
      if (i > 0) segmentFlags &= ~TCP_CWR;
      out[outTcp + 13] = segmentFlags;
      setTcpv4Checksum(out, 0, segmentLength);
      sink.onSegment(out, 0, segmentLength);
    }
    return count;
  }
}

/**
 * Turns a non-GSO record that needs its checksum completed into a plain packet, in place
 * (the header then describes nothing left to do). For peers without `gso`.
 */
export function completeRecordChecksum(buf: Uint8Array, hdrOffset: number, recordLength: number): void {
  completeChecksum(buf, hdrOffset + VNET_HDR_BYTES, recordLength - VNET_HDR_BYTES, csumStart(buf, hdrOffset), csumOffset(buf, hdrOffset));
  buf[hdrOffset + VnetField.flags] = 0;
}
