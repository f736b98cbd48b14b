// The rtnetlink messages kubelink sends and the replies it reads: IPv4 route requests
// (RTM_NEWROUTE / RTM_DELROUTE, one per route, each with NLM_F_ACK so each gets its own
// error), the route dump (RTM_GETROUTE filtered by table and protocol), and link lookups
// (RTM_GETLINK by name or index). Pure: bytes in, bytes out; the native exchange in
// native/src/netlink.c moves them. Layouts follow linux/netlink.h and linux/rtnetlink.h:
//
//   nlmsghdr  | len u32 | type u16 | flags u16 | seq u32 | pid u32 |         16 bytes
//   rtmsg     | family | dst_len | src_len | tos | table | protocol | scope | type | flags u32 |
//   ifinfomsg | family | pad | type u16 | index i32 | flags u32 | change u32 |
//   rtattr    | len u16 | type u16 | payload, padded to 4 |
//   nlmsgerr  | error i32 (negative errno, 0 = ack) | the request's nlmsghdr | TLVs |
//
// Integers are in host byte order; IPv4 addresses in network byte order.
import { endianness } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type { Ipv4Prefix } from '../../shared/types.js';

const LE = endianness() === 'LE';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** On an NLMSG_ERROR: the request is not echoed (NETLINK_CAP_ACK). */
const NLM_F_CAPPED = 0x100;
/** On an NLMSG_ERROR: extended-ack TLVs follow (NETLINK_EXT_ACK). */
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

const AF_INET = 2;
const IFLA_IFNAME = 3;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255;

const HEADER = 16;
const RTMSG = 12;
const IFINFOMSG = 16;

/** Route types kubelink uses (rtm_type): forwarding, and rejecting ones for unassigned space. */
export const ROUTE_TYPES = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
export type RouteType = keyof typeof ROUTE_TYPES;

/** An IPv4 route as the kernel sees it: the output device by index. */
export interface KernelRoute {
  destination: Ipv4Prefix;
  table: number;
  protocol: number;
  type: RouteType | 'other';
  /** Output interface index. */
  oif?: number;
  /** Next hop, unsigned 32-bit. */
  gateway?: number;
  /** Metric (RTA_PRIORITY); absent means 0. */
  priority?: number;
}

export type RouteChangeOp = 'add' | 'replace' | 'delete';

export interface RouteChange {
  op: RouteChangeOp;
  route: KernelRoute;
}

/** The kernel's answer to one request: errno 0 is success. */
export interface NetlinkAck {
  /** Positive errno (0 = success). */
  errno: number;
  /** Errno name (e.g. 'EEXIST'), '' for success. */
  code: string;
  /** What the errno means (e.g. 'file already exists'), '' for success. */
  description: string;
  /** The kernel's extended-ack text, when it gave one. */
  message?: string;
}

export interface NetlinkLink {
  index: number;
  name: string;
}

/** Everything one exchange's replies held. */
export interface NetlinkReplies {
  /** The final NLMSG_ERROR of each acked request, by sequence number. */
  acks: Map<number, NetlinkAck>;
  routes: KernelRoute[];
  links: NetlinkLink[];
  /** A dump that ended in an error instead of NLMSG_DONE, by sequence number. */
  dumpErrors: Map<number, NetlinkAck>;
  /** The kernel changed the table while dumping it (NLM_F_DUMP_INTR): dump again. */
  interrupted: boolean;
}

/** An ack for positive `errno` (0: success), named as Node names system errors. */
export function ackOf(errno: number, message?: string): NetlinkAck {
  errno = Math.abs(errno) === 0 ? 0 : errno; // no -0 from negating a zero error
  if (errno === 0) return message === undefined ? { errno, code: '', description: '' } : { errno, code: '', description: '', message };
  const [code, description] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, `error ${errno}`];
  return message === undefined ? { errno, code, description } : { errno, code, description, message };
}

/** Builds a sequence of netlink messages into one buffer. */
class MessageWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  private length = 0;
  private start = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  begin(type: number, flags: number, seq: number): this {
    this.start = this.length;
    this.reserve(HEADER);
    this.view.setUint16(this.start + 4, type, LE);
    this.view.setUint16(this.start + 6, flags, LE);
    this.view.setUint32(this.start + 8, seq >>> 0, LE);
    this.view.setUint32(this.start + 12, 0, LE);
    this.length += HEADER;
    return this;
  }

  u8(value: number): this {
    this.reserve(1);
    this.view.setUint8(this.length++, value);
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    this.view.setUint16(this.length, value, LE);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, value >>> 0, LE);
    this.length += 4;
    return this;
  }

  private attr(type: number, payload: number, write: (offset: number) => void): this {
    const padded = (4 + payload + 3) & ~3;
    this.reserve(padded);
    this.buffer.fill(0, this.length, this.length + padded);
    this.view.setUint16(this.length, 4 + payload, LE);
    this.view.setUint16(this.length + 2, type, LE);
    write(this.length + 4);
    this.length += padded;
    return this;
  }

  attrU32(type: number, value: number): this {
    return this.attr(type, 4, (o) => this.view.setUint32(o, value >>> 0, LE));
  }

  attrIpv4(type: number, address: number): this {
    return this.attr(type, 4, (o) => this.view.setUint32(o, address >>> 0, false));
  }

  attrString(type: number, text: string): this {
    const bytes = Buffer.from(`${text}\0`, 'utf8');
    return this.attr(type, bytes.length, (o) => this.buffer.set(bytes, o));
  }

  end(): this {
    this.view.setUint32(this.start, this.length - this.start, LE);
    return this;
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function writeRtmsg(w: MessageWriter, fields: { dstLen: number; table: number; protocol: number; scope: number; type: number }): void {
  w.u8(AF_INET).u8(fields.dstLen).u8(0).u8(0);
  w.u8(fields.table < 256 ? fields.table : 0).u8(fields.protocol).u8(fields.scope).u8(fields.type);
  w.u32(0);
}

function changeFlags(op: RouteChangeOp): { type: number; flags: number } {
  const base = NLM_F_REQUEST | NLM_F_ACK;
  if (op === 'add') return { type: RTM_NEWROUTE, flags: base | NLM_F_CREATE | NLM_F_EXCL };
  if (op === 'replace') return { type: RTM_NEWROUTE, flags: base | NLM_F_CREATE | NLM_F_REPLACE };
  return { type: RTM_DELROUTE, flags: base };
}

/**
 * One message per change, sequence numbers firstSeq, firstSeq + 1, ...: add is
 * `ip route add` (fails with EEXIST when any route holds the destination at that metric),
 * replace is `ip route replace`, delete removes only a route matching protocol, device,
 * gateway and metric.
 */
export function encodeRouteChanges(changes: readonly RouteChange[], firstSeq: number): Uint8Array {
  const w = new MessageWriter();
  changes.forEach((change, i) => {
    const { op, route } = change;
    if (route.type === 'other') throw new TypeError(`route change ${i}: type 'other' cannot be written`);
    const { type, flags } = changeFlags(op);
    const scope = op === 'delete' ? RT_SCOPE_NOWHERE : route.type === 'unicast' && route.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    w.begin(type, flags, firstSeq + i);
    writeRtmsg(w, {
      dstLen: route.destination.prefixLength,
      table: route.table,
      protocol: route.protocol,
      scope,
      // A delete matches any type unless told; ours are told.
      type: ROUTE_TYPES[route.type],
    });
    w.attrU32(RTA_TABLE, route.table);
    if (route.destination.prefixLength > 0) w.attrIpv4(RTA_DST, route.destination.network);
    if (route.oif !== undefined) w.attrU32(RTA_OIF, route.oif);
    if (route.gateway !== undefined) w.attrIpv4(RTA_GATEWAY, route.gateway);
    if (route.priority !== undefined && route.priority !== 0) w.attrU32(RTA_PRIORITY, route.priority);
    w.end();
  });
  return w.bytes();
}

/** A dump of the IPv4 routes of `table` and `protocol` (the kernel filters with strict checking; parse filters again). */
export function encodeRouteDump(seq: number, filter: { table: number; protocol: number }): Uint8Array {
  const w = new MessageWriter().begin(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
  writeRtmsg(w, { dstLen: 0, table: filter.table, protocol: filter.protocol, scope: 0, type: 0 });
  w.attrU32(RTA_TABLE, filter.table);
  return w.end().bytes();
}

/** Link lookups, one acked RTM_GETLINK per name or index, sequence numbers from firstSeq. */
export function encodeLinkQueries(keys: ReadonlyArray<string | number>, firstSeq: number): Uint8Array {
  const w = new MessageWriter();
  keys.forEach((key, i) => {
    w.begin(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, firstSeq + i);
    w.u8(0).u8(0).u16(0).u32(typeof key === 'number' ? key : 0).u32(0).u32(0);
    if (typeof key === 'string') w.attrString(IFLA_IFNAME, key);
    w.end();
  });
  return w.bytes();
}

function routeTypeName(type: number): RouteType | 'other' {
  for (const [name, value] of Object.entries(ROUTE_TYPES)) if (value === type) return name as RouteType;
  return 'other';
}

/** Walks the rtattrs in [start, end), calling visit(type, payloadOffset, payloadLength). */
function forEachAttr(view: DataView, start: number, end: number, visit: (type: number, offset: number, length: number) => void): void {
  let off = start;
  while (off + 4 <= end) {
    const len = view.getUint16(off, LE);
    if (len < 4 || off + len > end) return;
    visit(view.getUint16(off + 2, LE) & 0x3fff, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}

function parseAck(view: DataView, bytes: Uint8Array, off: number, len: number, flags: number): NetlinkAck {
  const ack = ackOf(len >= HEADER + 4 ? -view.getInt32(off + HEADER, LE) : 0);
  if (flags & NLM_F_ACK_TLVS && len >= HEADER + 4 + HEADER) {
    // After the error: the request's header, plus its payload unless capped.
    const requestLen = view.getUint32(off + HEADER + 4, LE);
    const tlvStart = off + HEADER + 4 + (flags & NLM_F_CAPPED ? HEADER : (requestLen + 3) & ~3);
    forEachAttr(view, tlvStart, off + len, (type, o, l) => {
      if (type === NLMSGERR_ATTR_MSG) ack.message = Buffer.from(bytes.buffer, bytes.byteOffset + o, l).toString('utf8').replace(/\0+$/, '');
    });
  }
  return ack;
}

function parseRoute(view: DataView, off: number, len: number): KernelRoute | undefined {
  if (len < HEADER + RTMSG || view.getUint8(off + HEADER) !== AF_INET) return undefined;
  const dstLen = view.getUint8(off + HEADER + 1);
  const route: KernelRoute = {
    destination: { network: 0, prefixLength: dstLen },
    table: view.getUint8(off + HEADER + 4),
    protocol: view.getUint8(off + HEADER + 5),
    type: routeTypeName(view.getUint8(off + HEADER + 7)),
  };
  forEachAttr(view, off + HEADER + RTMSG, off + len, (type, o, l) => {
    if (type === RTA_DST && l >= 4) route.destination = { network: view.getUint32(o, false), prefixLength: dstLen };
    else if (type === RTA_OIF && l >= 4) route.oif = view.getUint32(o, LE);
    else if (type === RTA_GATEWAY && l >= 4) route.gateway = view.getUint32(o, false);
    else if (type === RTA_PRIORITY && l >= 4) route.priority = view.getUint32(o, LE);
    else if (type === RTA_TABLE && l >= 4) route.table = view.getUint32(o, LE);
  });
  return route;
}

function parseLink(view: DataView, bytes: Uint8Array, off: number, len: number): NetlinkLink | undefined {
  if (len < HEADER + IFINFOMSG) return undefined;
  const link: NetlinkLink = { index: view.getInt32(off + HEADER + 4, LE), name: '' };
  forEachAttr(view, off + HEADER + IFINFOMSG, off + len, (type, o, l) => {
    if (type === IFLA_IFNAME) link.name = Buffer.from(bytes.buffer, bytes.byteOffset + o, l).toString('utf8').replace(/\0+$/, '');
  });
  return link;
}

/**
 * Reads every message of an exchange's replies. Acks of requests and errors of dumps are
 * told apart by `dumpSeqs` (the sequence numbers of the dump requests). Malformed bytes
 * end the walk: what was read before is kept.
 */
export function parseReplies(bytes: Uint8Array, dumpSeqs: ReadonlySet<number> = new Set()): NetlinkReplies {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const replies: NetlinkReplies = { acks: new Map(), routes: [], links: [], dumpErrors: new Map(), interrupted: false };
  let off = 0;
  while (off + HEADER <= bytes.length) {
    const len = view.getUint32(off, LE);
    if (len < HEADER || off + len > bytes.length) break;
    const type = view.getUint16(off + 4, LE);
    const flags = view.getUint16(off + 6, LE);
    const seq = view.getUint32(off + 8, LE);
    if (flags & NLM_F_DUMP_INTR) replies.interrupted = true;
    if (type === NLMSG_ERROR) {
      const ack = parseAck(view, bytes, off, len, flags);
      if (dumpSeqs.has(seq)) replies.dumpErrors.set(seq, ack);
      else replies.acks.set(seq, ack);
    } else if (type === NLMSG_DONE) {
      // A dump's DONE carries its status (0, or a negative errno).
      const status = len >= HEADER + 4 ? -view.getInt32(off + HEADER, LE) : 0;
      if (status !== 0) replies.dumpErrors.set(seq, ackOf(status));
    } else if (type === RTM_NEWROUTE) {
      const route = parseRoute(view, off, len);
      if (route) replies.routes.push(route);
    } else if (type === RTM_NEWLINK) {
      const link = parseLink(view, bytes, off, len);
      if (link) replies.links.push(link);
    }
    off += (len + 3) & ~3;
  }
  return replies;
}
