// Reads the few IP header fields the data plane needs, straight from a buffer at an
// offset: no parsing into objects, integer math only.

export const IPV4_MIN_HEADER_BYTES = 20;
export const IPV6_HEADER_BYTES = 40;

/** IP version (the first nibble): 4, 6, or anything else for a non-IP payload. */
export function ipVersion(buf: Uint8Array, offset: number): number {
  return buf[offset]! >>> 4;
}

function readU32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

/** IPv4 source address as an unsigned 32-bit integer (header assumed valid). */
export function ipv4Source(buf: Uint8Array, offset: number): number {
  return readU32(buf, offset + 12);
}

/** IPv4 destination address as an unsigned 32-bit integer (header assumed valid). */
export function ipv4Destination(buf: Uint8Array, offset: number): number {
  return readU32(buf, offset + 16);
}

/**
 * True when the bytes hold exactly one IP packet: IPv4 with IHL >= 5, the header inside
 * the buffer and the total-length field equal to `length`; IPv6 with a full fixed header
 * and 40 + payload length equal to `length`.
 */
export function ipPacketValid(buf: Uint8Array, offset: number, length: number): boolean {
  if (length < 1) return false;
  const first = buf[offset]!;
  const version = first >>> 4;
  if (version === 4) {
    if (length < IPV4_MIN_HEADER_BYTES) return false;
    const headerBytes = (first & 0x0f) * 4;
    if (headerBytes < IPV4_MIN_HEADER_BYTES || headerBytes > length) return false;
    return ((buf[offset + 2]! << 8) | buf[offset + 3]!) === length;
  }
  if (version === 6) {
    if (length < IPV6_HEADER_BYTES) return false;
    return IPV6_HEADER_BYTES + ((buf[offset + 4]! << 8) | buf[offset + 5]!) === length;
  }
  return false;
}
