// The one thing a simulated peer does with IP packets: answer an ICMP echo request to one
// of its own addresses with an echo reply, as a host's kernel would.
import { foldChecksum, onesComplementAdd, setIpv4HeaderChecksum } from '../../src/shared/gso-segment.js';
import { ipVersion, ipv4Destination, ipv4Source } from '../../src/shared/ip-packet.js';

const IP_PROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

/**
 * The echo reply to an IPv4 ICMP echo request at buf[offset, offset + length) whose
 * destination `isOwn` accepts, or undefined for any other packet. Source and destination
 * swap, type 0, checksums recomputed.
 */
export function icmpEchoReply(buf: Uint8Array, offset: number, length: number, isOwn: (address: number) => boolean): Buffer | undefined {
  if (length < 28 || ipVersion(buf, offset) !== 4 || buf[offset + 9] !== IP_PROTO_ICMP) return undefined;
  const headerBytes = (buf[offset]! & 0x0f) * 4;
  const totalLength = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (totalLength > length || totalLength < headerBytes + 8 || buf[offset + headerBytes] !== ICMP_ECHO_REQUEST) return undefined;
  const destination = ipv4Destination(buf, offset);
  if (!isOwn(destination)) return undefined;
  const reply = Buffer.from(buf.subarray(offset, offset + totalLength));
  reply.writeUInt32BE(destination, 12);
  reply.writeUInt32BE(ipv4Source(buf, offset), 16);
  reply[8] = 64; // a fresh TTL, as a host answering would send
  setIpv4HeaderChecksum(reply, 0);
  reply[headerBytes] = ICMP_ECHO_REPLY;
  reply.writeUInt16BE(0, headerBytes + 2);
  reply.writeUInt16BE(~foldChecksum(onesComplementAdd(reply, headerBytes, totalLength, 0)) & 0xffff, headerBytes + 2);
  return reply;
}
