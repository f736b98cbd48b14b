// The tunnel's wire protocol (inside TLS, ALPN `kubelink/1`; docs/architecture.md, "Wire protocol"):
//
//   frame   = u16 big-endian payload length, payload (1..65535 bytes)
//           | 0x0000, u32 big-endian payload length, payload   (large frame: only after
//             both peers announced CAPABILITY_GSO; before that a zero length is an empty
//             frame, counted and skipped)
//   payload = IP packet   when the first nibble is 4 or 6 (the seed's format)
//           | control     when the first byte is 0x01..0x3F (the control type)
//           | offload     0x10 | virtio_net_hdr (10 bytes, see gso-header.ts) | IPv4 packet
//                         (only after both peers announced CAPABILITY_GSO: a TSO/GSO
//                         super-packet of up to 64 KiB, or a packet whose checksum the
//                         receiving kernel completes)
//
//   HELLO          0x01 | u8 version | u32 capabilities | u32 cluster address | u32 max frame payload
//                  | extension*   (each: u8 type | u8 value length | value; unknown types
//                                  are skipped, so a broker ignores what it does not know)
//     extension 0x01 DNS: u32 cluster DNS service IP | cluster domain (ASCII, 1..251 bytes: the
//                    value length is a u8)
//     extension 0x02 mesh DNS port: u16 port of the sender's DNS for the mesh domain, where
//                    its MeshService names are asked (0: it answers none); absent from
//                    older brokers, which are asked at the receiver's own --dns-port
//   KEEPALIVE      0x02 | u32 seq | f64 sent time (ms)
//   KEEPALIVE_ACK  0x03 | u32 seq | f64 sent time (ms), echoed from the keepalive
//
// All integers big-endian. Decoders ignore trailing bytes, so a later version may append
// fields to a control frame and an older peer still understands the prefix it knows.
// Control frames are rare, so their decoders may allocate result objects; the encoders
// write into a caller-provided buffer.
import type { ParseResult } from './parse-result.js';

export const ALPN_PROTOCOL = 'kubelink/1';
export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 2;
export const MAX_FRAME_PAYLOAD = 0xffff;

export const CONTROL_TYPE_MAX = 0x3f;
export const ControlType = { hello: 0x01, keepalive: 0x02, keepaliveAck: 0x03 } as const;
export type ControlTypeName = keyof typeof ControlType;

/** Capability bits announced in HELLO (a bitset); each is used only when both peers
 *  announce it. */
export const NO_CAPABILITIES = 0;
/** Offload frames and large frames: the sender's TUN takes virtio-net headers. */
export const CAPABILITY_GSO = 1 << 0;

/** First byte of an offload frame's payload (inside the control range, so a peer that
 *  never announced gso would count it as an unknown control frame). */
export const OFFLOAD_FRAME_TYPE = 0x10;
/** Length escape + u32 length. */
export const LARGE_FRAME_HEADER_BYTES = 6;
/** Largest offload frame payload: type byte, virtio_net_hdr, a 64 KiB IPv4 packet. */
export const MAX_OFFLOAD_FRAME_PAYLOAD = 1 + 10 + 0xffff;

export const HELLO_BYTES = 14;
/** Hello extension types (see the top of this file). */
export const HelloExtension = { dns: 0x01, meshDnsPort: 0x02 } as const;
/** Longest cluster domain the DNS extension carries: its u8 value length less the IP. */
export const MAX_HELLO_DOMAIN_BYTES = 0xff - 4;
/** Room for a hello with every extension this version sends (DNS: at most 2 + 4 + 251; mesh DNS port: 2 + 2). */
export const MAX_HELLO_BYTES = HELLO_BYTES + 2 + 4 + MAX_HELLO_DOMAIN_BYTES + 2 + 2;
export const KEEPALIVE_BYTES = 13;

export interface Hello {
  version: number;
  /** Capability bitset (see NO_CAPABILITIES). */
  capabilities: number;
  /** Sender's cluster address (unsigned 32-bit). */
  clusterAddress: number;
  /** Largest frame payload the sender accepts. */
  maxFramePayload: number;
  /** The sender's cluster DNS (extension 0x01); absent from brokers without it. */
  dns?: HelloDns;
  /** Port of the sender's mesh DNS (extension 0x02, 0: none); absent from brokers without it. */
  meshDnsPort?: number;
  /** Decoded only: why known extensions were ignored (malformed); absent when none was. */
  badExtensions?: string[];
}

/** How the sender's cluster names resolve: its cluster DNS service IP and cluster domain. */
export interface HelloDns {
  /** Unsigned 32-bit IPv4 address. */
  dnsIp: number;
  /** Lower case, no root dot, ASCII, 1..MAX_HELLO_DOMAIN_BYTES (251) bytes. */
  domain: string;
}

export interface Keepalive {
  /** Sequence number (u32), echoed in the ack. */
  seq: number;
  /** Sender's clock when sent, in ms (e.g. performance.now()); echoed for the round-trip time. */
  sentTimeMs: number;
}

export type ControlFrame =
  | ({ type: 'hello' } & Hello)
  | ({ type: 'keepalive' } & Keepalive)
  | ({ type: 'keepaliveAck' } & Keepalive);

export function isKnownControlType(firstByte: number): boolean {
  return firstByte >= ControlType.hello && firstByte <= ControlType.keepaliveAck;
}

/** Writes the 2-byte length of a frame whose payload follows at offset + 2. */
export function writeFrameHeader(buf: Uint8Array, offset: number, payloadLength: number): void {
  buf[offset] = payloadLength >>> 8;
  buf[offset + 1] = payloadLength & 0xff;
}

export function readFrameLength(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

/** Header bytes of a frame with this payload length (large frames above 65535). */
export function frameHeaderBytes(payloadLength: number): number {
  return payloadLength > MAX_FRAME_PAYLOAD ? LARGE_FRAME_HEADER_BYTES : FRAME_HEADER_BYTES;
}

/** Writes a large-frame header (escape + u32 length) for a payload at offset + 6. */
export function writeLargeFrameHeader(buf: Uint8Array, offset: number, payloadLength: number): void {
  buf[offset] = 0;
  buf[offset + 1] = 0;
  writeU32(buf, offset + 2, payloadLength);
}

/** The u32 length of a large-frame header at offset (its first two bytes are 0). */
export function readLargeFrameLength(buf: Uint8Array, offset: number): number {
  return readU32(buf, offset + 2);
}

function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

function readU32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

// One scratch view per thread converts f64 <-> big-endian bytes without a DataView per call.
const f64Scratch = new DataView(new ArrayBuffer(8));

function writeF64(buf: Uint8Array, offset: number, value: number): void {
  f64Scratch.setFloat64(0, value, false);
  for (let i = 0; i < 8; i++) buf[offset + i] = f64Scratch.getUint8(i);
}

function readF64(buf: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) f64Scratch.setUint8(i, buf[offset + i]!);
  return f64Scratch.getFloat64(0, false);
}

function checkRoom(buf: Uint8Array, offset: number, bytes: number): void {
  if (offset < 0 || offset + bytes > buf.length) {
    throw new RangeError(`control frame needs ${bytes} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
}

/** Writes a HELLO payload with its extensions; returns its length (HELLO_BYTES without any). */
export function encodeHello(buf: Uint8Array, offset: number, hello: Hello): number {
  const domain = hello.dns === undefined ? undefined : Buffer.from(hello.dns.domain, 'ascii');
  if (domain !== undefined && (domain.length < 1 || domain.length > MAX_HELLO_DOMAIN_BYTES)) {
    throw new RangeError(`hello DNS domain must be 1..${MAX_HELLO_DOMAIN_BYTES} bytes, got ${domain.length}`);
  }
  const port = hello.meshDnsPort;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 0xffff)) {
    throw new RangeError(`hello mesh DNS port must be 0..65535, got ${port}`);
  }
  const length = HELLO_BYTES + (domain === undefined ? 0 : 2 + 4 + domain.length) + (port === undefined ? 0 : 2 + 2);
  checkRoom(buf, offset, length);
  buf[offset] = ControlType.hello;
  buf[offset + 1] = hello.version & 0xff;
  writeU32(buf, offset + 2, hello.capabilities);
  writeU32(buf, offset + 6, hello.clusterAddress);
  writeU32(buf, offset + 10, hello.maxFramePayload);
  let at = offset + HELLO_BYTES;
  if (domain !== undefined) {
    buf[at] = HelloExtension.dns;
    buf[at + 1] = 4 + domain.length;
    writeU32(buf, at + 2, hello.dns!.dnsIp);
    buf.set(domain, at + 6);
    at += 2 + 4 + domain.length;
  }
  if (port !== undefined) {
    buf[at] = HelloExtension.meshDnsPort;
    buf[at + 1] = 2;
    buf[at + 2] = port >>> 8;
    buf[at + 3] = port & 0xff;
  }
  return length;
}

/**
 * The extensions after a hello's fixed part. A malformed known extension is ignored and
 * named in `badExtensions` (the receiver counts and logs it); a truncated extension ends
 * the list (the fields before it stand): a garbled extension must not cost the tunnel.
 */
function decodeHelloExtensions(buf: Uint8Array, start: number, end: number): Pick<Hello, 'dns' | 'meshDnsPort' | 'badExtensions'> {
  const out: Pick<Hello, 'dns' | 'meshDnsPort' | 'badExtensions'> = {};
  const bad = (reason: string): void => {
    (out.badExtensions ??= []).push(reason);
  };
  let at = start;
  while (at < end) {
    if (at + 2 > end) {
      bad(`extension 0x${hex(buf[at]!)} truncated`);
      break;
    }
    const type = buf[at]!;
    const length = buf[at + 1]!;
    const value = at + 2;
    if (value + length > end) {
      bad(`extension 0x${hex(type)} truncated: ${length} bytes announced, ${end - value} left`);
      break;
    }
    if (type === HelloExtension.dns) {
      const domain = length >= 5 ? Buffer.from(buf.buffer, buf.byteOffset + value + 4, length - 4).toString('latin1') : '';
      // Only a plain lower-case host name is taken: it ends up in DNS answers.
      if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain)) out.dns = { dnsIp: readU32(buf, value), domain };
      else bad(length >= 5 ? 'DNS extension: the domain is not a lower-case host name' : `DNS extension: ${length} bytes, at least 5 needed`);
    } else if (type === HelloExtension.meshDnsPort) {
      if (length === 2) out.meshDnsPort = (buf[value]! << 8) | buf[value + 1]!;
      else bad(`mesh DNS port extension: ${length} bytes, 2 needed`);
    }
    at = value + length;
  }
  return out;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

function encodeKeepaliveOf(type: number, buf: Uint8Array, offset: number, keepalive: Keepalive): number {
  checkRoom(buf, offset, KEEPALIVE_BYTES);
  buf[offset] = type;
  writeU32(buf, offset + 1, keepalive.seq);
  writeF64(buf, offset + 5, keepalive.sentTimeMs);
  return KEEPALIVE_BYTES;
}

/** Writes a KEEPALIVE payload; returns its length (KEEPALIVE_BYTES). */
export function encodeKeepalive(buf: Uint8Array, offset: number, keepalive: Keepalive): number {
  return encodeKeepaliveOf(ControlType.keepalive, buf, offset, keepalive);
}

/** Writes a KEEPALIVE_ACK payload echoing a keepalive; returns its length. */
export function encodeKeepaliveAck(buf: Uint8Array, offset: number, keepalive: Keepalive): number {
  return encodeKeepaliveOf(ControlType.keepaliveAck, buf, offset, keepalive);
}

/** Decodes a control payload (as handed to FrameDecoder's onControl). */
export function decodeControl(buf: Uint8Array, offset: number, length: number): ParseResult<ControlFrame> {
  if (length < 1) return { ok: false, reason: 'empty control frame' };
  const type = buf[offset]!;
  switch (type) {
    case ControlType.hello: {
      if (length < HELLO_BYTES) return { ok: false, reason: `hello needs ${HELLO_BYTES} bytes, got ${length}` };
      return {
        ok: true,
        value: {
          type: 'hello',
          version: buf[offset + 1]!,
          capabilities: readU32(buf, offset + 2),
          clusterAddress: readU32(buf, offset + 6),
          maxFramePayload: readU32(buf, offset + 10),
          ...decodeHelloExtensions(buf, offset + HELLO_BYTES, offset + length),
        },
      };
    }
    case ControlType.keepalive:
    case ControlType.keepaliveAck: {
      if (length < KEEPALIVE_BYTES) return { ok: false, reason: `keepalive needs ${KEEPALIVE_BYTES} bytes, got ${length}` };
      return {
        ok: true,
        value: {
          type: type === ControlType.keepalive ? 'keepalive' : 'keepaliveAck',
          seq: readU32(buf, offset + 1),
          sentTimeMs: readF64(buf, offset + 5),
        },
      };
    }
    default:
      return { ok: false, reason: `unknown control type 0x${hex(type)}` };
  }
}
