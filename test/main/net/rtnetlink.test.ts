import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RTM_DELROUTE,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RT_TABLE_MAIN,
  encodeLinkQueries,
  encodeRouteChanges,
  encodeRouteDump,
  parseReplies,
} from '../../../src/main/net/rtnetlink.js';
import type { KernelRoute } from '../../../src/main/net/rtnetlink.js';
import { parseIpv4, parsePrefix } from '../../../src/shared/cidr.js';

function prefix(text: string) {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}
const ip4 = (text: string) => parseIpv4(text)!;

interface Message {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

/** An independent reader of netlink framing (little endian, as on this machine). */
function messages(bytes: Uint8Array): Message[] {
  const b = Buffer.from(bytes);
  const out: Message[] = [];
  for (let off = 0; off < b.length; ) {
    const len = b.readUInt32LE(off);
    assert.ok(len >= 16 && off + len <= b.length, `message at ${off} has a sane length`);
    out.push({ type: b.readUInt16LE(off + 4), flags: b.readUInt16LE(off + 6), seq: b.readUInt32LE(off + 8), body: b.subarray(off + 16, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

function attrs(body: Buffer, start: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = start; off + 4 <= body.length; ) {
    const len = body.readUInt16LE(off);
    out.set(body.readUInt16LE(off + 2), body.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

/** Builds a reply datagram the way the kernel does. */
function header(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  const padded = Buffer.alloc((body.length + 3) & ~3);
  body.copy(padded);
  return Buffer.concat([h, padded]);
}
function attr(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + payload.length, 0);
  h.writeUInt16LE(type, 2);
  return Buffer.concat([h, payload, Buffer.alloc(((payload.length + 3) & ~3) - payload.length)]);
}
function errorReply(seq: number, errno: number, text?: string): Buffer {
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(60, 4); // the request's header (capped: no payload)
  const tlv = text === undefined ? Buffer.alloc(0) : attr(1, Buffer.from(`${text}\0`));
  return header(NLMSG_ERROR, 0x100 | (text === undefined ? 0 : 0x200), seq, Buffer.concat([body, tlv]));
}
function routeReply(seq: number, route: { dst: string; len: number; protocol: number; oif?: number; gateway?: string; type?: number; family?: number }): Buffer {
  const rtmsg = Buffer.from([route.family ?? 2, route.len, 0, 0, RT_TABLE_MAIN, route.protocol, 0, route.type ?? 1, 0, 0, 0, 0]);
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const be = (a: string) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(ip4(a));
    return b;
  };
  const parts = [rtmsg, attr(15, u32(RT_TABLE_MAIN)), attr(1, be(route.dst))];
  if (route.oif !== undefined) parts.push(attr(4, u32(route.oif)));
  if (route.gateway !== undefined) parts.push(attr(5, be(route.gateway)));
  return header(RTM_NEWROUTE, 0x2, seq, Buffer.concat(parts));
}

test('encodeRouteChanges writes one acked request per change with consecutive sequence numbers and the ip-route flags', () => {
  const base: KernelRoute = { destination: prefix('100.64.16.0/20'), table: RT_TABLE_MAIN, protocol: 211, type: 'unicast', oif: 7 };
  const bytes = encodeRouteChanges(
    [
      { op: 'add', route: base },
      { op: 'replace', route: { ...base, oif: undefined, gateway: ip4('10.250.0.2'), destination: prefix('192.168.5.0/24') } },
      { op: 'delete', route: { ...base, priority: 10 } },
      { op: 'add', route: { destination: prefix('100.64.0.0/16'), table: RT_TABLE_MAIN, protocol: 213, type: 'unreachable' } },
    ],
    41,
  );
  const m = messages(bytes);
  assert.deepEqual(m.map((x) => [x.type, x.seq]), [[RTM_NEWROUTE, 41], [RTM_NEWROUTE, 42], [RTM_DELROUTE, 43], [RTM_NEWROUTE, 44]]);
  assert.equal(m[0]!.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 'add fails on an existing route (EEXIST)');
  assert.equal(m[1]!.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  assert.equal(m[2]!.flags, NLM_F_REQUEST | NLM_F_ACK);

  // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type
  assert.deepEqual([...m[0]!.body.subarray(0, 8)], [2, 20, 0, 0, RT_TABLE_MAIN, 211, 253, 1], 'a device route has link scope');
  assert.deepEqual([...m[1]!.body.subarray(0, 8)], [2, 24, 0, 0, RT_TABLE_MAIN, 211, 0, 1], 'a gateway route has universe scope');
  assert.deepEqual([...m[2]!.body.subarray(0, 8)], [2, 20, 0, 0, RT_TABLE_MAIN, 211, 255, 1], 'a delete matches any scope');
  assert.deepEqual([...m[3]!.body.subarray(0, 8)], [2, 16, 0, 0, RT_TABLE_MAIN, 213, 0, 7], 'an unreachable route');

  const a0 = attrs(m[0]!.body, 12);
  assert.equal(a0.get(1)!.readUInt32BE(), ip4('100.64.16.0'), 'RTA_DST in network order');
  assert.equal(a0.get(4)!.readUInt32LE(), 7, 'RTA_OIF');
  assert.equal(a0.get(15)!.readUInt32LE(), RT_TABLE_MAIN, 'RTA_TABLE');
  assert.equal(a0.has(5), false);
  assert.equal(a0.has(6), false, 'metric 0 is not written');
  const a1 = attrs(m[1]!.body, 12);
  assert.equal(a1.get(5)!.readUInt32BE(), ip4('10.250.0.2'), 'RTA_GATEWAY in network order');
  assert.equal(a1.has(4), false);
  assert.equal(attrs(m[2]!.body, 12).get(6)!.readUInt32LE(), 10, 'RTA_PRIORITY: the delete names the metric');
});

test('encodeRouteChanges of 252 routes is one buffer of 252 messages', () => {
  const changes = Array.from({ length: 252 }, (_, i) => ({
    op: 'add' as const,
    route: { destination: { network: ip4('100.64.0.0') + i * 4096, prefixLength: 20 }, table: RT_TABLE_MAIN, protocol: 211, type: 'unicast' as const, oif: 3 },
  }));
  const m = messages(encodeRouteChanges(changes, 1000));
  assert.equal(m.length, 252);
  assert.deepEqual(m.map((x) => x.seq), changes.map((_, i) => 1000 + i));
  assert.equal(attrs(m[251]!.body, 12).get(1)!.readUInt32BE(), ip4('100.64.0.0') + 251 * 4096);
});

test('encodeRouteDump asks for a dump of one table and protocol; encodeLinkQueries looks links up by name or index', () => {
  const [dump] = messages(encodeRouteDump(9, { table: RT_TABLE_MAIN, protocol: 212 }));
  assert.equal(dump!.type, RTM_GETROUTE);
  assert.equal(dump!.flags, NLM_F_REQUEST | NLM_F_DUMP);
  assert.deepEqual([...dump!.body.subarray(0, 8)], [2, 0, 0, 0, RT_TABLE_MAIN, 212, 0, 0]);

  const links = messages(encodeLinkQueries(['kltun0', 5], 3));
  assert.deepEqual(links.map((x) => [x.type, x.flags, x.seq]), [[RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 3], [RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 4]]);
  assert.equal(attrs(links[0]!.body, 16).get(3)!.toString(), 'kltun0\0');
  assert.equal(links[1]!.body.readInt32LE(4), 5);
});

test('parseReplies keeps each request its own error, with the errno name and the kernel text', () => {
  const bytes = Buffer.concat([errorReply(10, 0), errorReply(11, 17), errorReply(12, 101, 'Nexthop has invalid gateway'), errorReply(13, 0)]);
  const replies = parseReplies(bytes);
  assert.deepEqual([...replies.acks.keys()], [10, 11, 12, 13]);
  assert.equal(replies.acks.get(10)!.errno, 0);
  assert.deepEqual(replies.acks.get(11), { errno: 17, code: 'EEXIST', description: 'file already exists' });
  assert.equal(replies.acks.get(12)!.code, 'ENETUNREACH');
  assert.equal(replies.acks.get(12)!.message, 'Nexthop has invalid gateway');
});

test('parseReplies reads IPv4 routes of a dump, skips other families, and tells dump errors from acks', () => {
  const link = header(RTM_NEWLINK, 0, 5, Buffer.concat([Buffer.from([0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), attr(3, Buffer.from('kltun0\0'))]));
  const bytes = Buffer.concat([
    routeReply(6, { dst: '100.64.16.0', len: 20, protocol: 211, oif: 9 }),
    routeReply(6, { dst: '100.64.32.0', len: 20, protocol: 211, gateway: '10.250.0.2', oif: 2 }),
    routeReply(6, { dst: '10.0.0.0', len: 8, protocol: 211, type: 7 }),
    routeReply(6, { dst: '0.0.0.0', len: 0, protocol: 211, family: 10 }),
    header(NLMSG_DONE, 0x2, 6, Buffer.alloc(4)),
    link,
    errorReply(7, 16),
  ]);
  const replies = parseReplies(bytes, new Set([7]));
  assert.deepEqual(replies.routes, [
    { destination: prefix('100.64.16.0/20'), table: RT_TABLE_MAIN, protocol: 211, type: 'unicast', oif: 9 },
    { destination: prefix('100.64.32.0/20'), table: RT_TABLE_MAIN, protocol: 211, type: 'unicast', oif: 2, gateway: ip4('10.250.0.2') },
    { destination: prefix('10.0.0.0/8'), table: RT_TABLE_MAIN, protocol: 211, type: 'unreachable' },
  ]);
  assert.deepEqual(replies.links, [{ index: 9, name: 'kltun0' }]);
  assert.equal(replies.acks.size, 0);
  assert.equal(replies.dumpErrors.get(7)!.code, 'EBUSY');
  assert.equal(replies.interrupted, false);
  assert.equal(parseReplies(header(RTM_NEWROUTE, 0x2 | 0x10, 1, Buffer.alloc(12))).interrupted, true, 'NLM_F_DUMP_INTR is noticed');
});

test('parseReplies stops at a truncated message and keeps what came before', () => {
  const good = errorReply(1, 0);
  const bad = Buffer.from(errorReply(2, 0));
  bad.writeUInt32LE(400, 0);
  assert.deepEqual([...parseReplies(Buffer.concat([good, bad])).acks.keys()], [1]);
});
