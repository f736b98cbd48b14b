import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALPN_PROTOCOL, CAPABILITY_GSO, CONTROL_TYPE_MAX, ControlType, HELLO_BYTES, KEEPALIVE_BYTES, LARGE_FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD,
  MAX_OFFLOAD_FRAME_PAYLOAD, OFFLOAD_FRAME_TYPE, PROTOCOL_VERSION, decodeControl, encodeHello, encodeKeepalive, encodeKeepaliveAck, HelloExtension, MAX_HELLO_BYTES, MAX_HELLO_DOMAIN_BYTES,
  frameHeaderBytes, isKnownControlType, readFrameLength, readLargeFrameLength, writeFrameHeader, writeLargeFrameHeader,
} from '../../src/shared/wire.js';

test('protocol constants name kubelink/1 and 16-bit frames', () => {
  assert.equal(ALPN_PROTOCOL, 'kubelink/1');
  assert.equal(PROTOCOL_VERSION, 1);
  assert.equal(MAX_FRAME_PAYLOAD, 65535);
});

test('frame headers are 2-byte big-endian lengths', () => {
  const buf = new Uint8Array(4);
  writeFrameHeader(buf, 1, 0x1234);
  assert.deepEqual([...buf], [0, 0x12, 0x34, 0]);
  assert.equal(readFrameLength(buf, 1), 0x1234);
  writeFrameHeader(buf, 0, 65535);
  assert.equal(readFrameLength(buf, 0), 65535);
});

test('hello round-trips at an offset, big-endian, with addresses above 2^31', () => {
  const buf = new Uint8Array(3 + HELLO_BYTES);
  const hello = { version: PROTOCOL_VERSION, capabilities: 0x80000001, clusterAddress: 0xc0a8000b, maxFramePayload: 65535 };
  assert.equal(encodeHello(buf, 3, hello), HELLO_BYTES);
  assert.deepEqual([...buf.subarray(3, 3 + 6)], [ControlType.hello, 1, 0x80, 0, 0, 1]);
  assert.deepEqual(decodeControl(buf, 3, HELLO_BYTES), { ok: true, value: { type: 'hello', ...hello } });
});

test('decoders ignore trailing bytes, so later versions can extend a control frame', () => {
  const buf = new Uint8Array(HELLO_BYTES + 10).fill(0xee);
  encodeHello(buf, 0, { version: 2, capabilities: 0, clusterAddress: 1, maxFramePayload: 1500 });
  const decoded = decodeControl(buf, 0, buf.length);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.type, 'hello');
});

test('the DNS hello extension round-trips: the cluster DNS IP and domain follow the fixed fields', () => {
  const buf = new Uint8Array(MAX_HELLO_BYTES);
  const hello = { version: PROTOCOL_VERSION, capabilities: 0, clusterAddress: 0xc0a8000b, maxFramePayload: 65535, dns: { dnsIp: 0x6440000a, domain: 'cluster.local' } };
  const length = encodeHello(buf, 0, hello);
  assert.equal(length, HELLO_BYTES + 2 + 4 + 'cluster.local'.length);
  assert.deepEqual([...buf.subarray(HELLO_BYTES, HELLO_BYTES + 6)], [HelloExtension.dns, 4 + 13, 0x64, 0x40, 0, 0x0a]);
  assert.deepEqual(decodeControl(buf, 0, length), { ok: true, value: { type: 'hello', ...hello } });
});

test('an old-style hello (fixed fields only) decodes with no DNS, and a new hello keeps the fixed fields an old broker reads', () => {
  const buf = new Uint8Array(MAX_HELLO_BYTES);
  const fixed = { version: PROTOCOL_VERSION, capabilities: 1, clusterAddress: 0xc0a8000c, maxFramePayload: 1500 };
  encodeHello(buf, 0, fixed);
  assert.deepEqual(decodeControl(buf, 0, HELLO_BYTES), { ok: true, value: { type: 'hello', ...fixed } });
  const length = encodeHello(buf, 0, { ...fixed, dns: { dnsIp: 1, domain: 'cluster.local' } });
  // An old broker decodes the prefix it knows: exactly the fixed fields.
  assert.deepEqual(decodeControl(buf, 0, HELLO_BYTES), { ok: true, value: { type: 'hello', ...fixed } });
  assert.ok(length > HELLO_BYTES);
});

test('unknown hello extensions are skipped, and a truncated or unprintable one is ignored without failing the hello', () => {
  const dns = [HelloExtension.dns, 4 + 2, 0, 0, 0, 9, ...Buffer.from('c2')];
  const fixed = new Uint8Array(HELLO_BYTES);
  encodeHello(fixed, 0, { version: 1, capabilities: 0, clusterAddress: 7, maxFramePayload: 1500 });
  const withUnknown = Uint8Array.from([...fixed, 0x7f, 3, 1, 2, 3, ...dns]);
  const decoded = decodeControl(withUnknown, 0, withUnknown.length);
  assert.ok(decoded.ok && decoded.value.type === 'hello');
  assert.deepEqual(decoded.value.dns, { dnsIp: 9, domain: 'c2' });
  const truncated = Uint8Array.from([...fixed, ...dns.slice(0, 5)]);
  const t = decodeControl(truncated, 0, truncated.length);
  assert.ok(t.ok && t.value.type === 'hello' && t.value.dns === undefined && t.value.clusterAddress === 7);
  const bad = Uint8Array.from([...fixed, HelloExtension.dns, 4 + 3, 0, 0, 0, 9, 0x41, 0x0a, 0x2e]);
  const b = decodeControl(bad, 0, bad.length);
  assert.ok(b.ok && b.value.type === 'hello' && b.value.dns === undefined);
  assert.throws(() => encodeHello(new Uint8Array(MAX_HELLO_BYTES), 0, { version: 1, capabilities: 0, clusterAddress: 0, maxFramePayload: 1, dns: { dnsIp: 0, domain: '' } }), RangeError);
});

test('the mesh DNS port extension (0x02, u16) round-trips after the DNS one; 0 says no mesh DNS', () => {
  const buf = new Uint8Array(MAX_HELLO_BYTES);
  const hello = { version: PROTOCOL_VERSION, capabilities: 0, clusterAddress: 0xc0a8000b, maxFramePayload: 65535, dns: { dnsIp: 0x6440000a, domain: 'a'.repeat(MAX_HELLO_DOMAIN_BYTES) }, meshDnsPort: 65535 };
  const length = encodeHello(buf, 0, hello);
  assert.equal(length, MAX_HELLO_BYTES, 'the largest hello fits MAX_HELLO_BYTES');
  assert.deepEqual([...buf.subarray(length - 4, length)], [HelloExtension.meshDnsPort, 2, 0xff, 0xff]);
  assert.deepEqual(decodeControl(buf, 0, length), { ok: true, value: { type: 'hello', ...hello } });
  for (const meshDnsPort of [0, 8053]) {
    const only = { version: 1, capabilities: 0, clusterAddress: 7, maxFramePayload: 1500, meshDnsPort };
    const n = encodeHello(buf, 0, only);
    assert.equal(n, HELLO_BYTES + 4);
    assert.deepEqual(decodeControl(buf, 0, n), { ok: true, value: { type: 'hello', ...only } });
  }
  for (const bad of [-1, 65536, 1.5]) {
    assert.throws(() => encodeHello(buf, 0, { version: 1, capabilities: 0, clusterAddress: 7, maxFramePayload: 1500, meshDnsPort: bad }), RangeError);
  }
});

test('an old-hello peer (no extensions, or only the DNS one) decodes without a mesh DNS port and without complaints', () => {
  const buf = new Uint8Array(MAX_HELLO_BYTES);
  const fixed = { version: 1, capabilities: 0, clusterAddress: 7, maxFramePayload: 1500 };
  const plain = decodeControl(buf, 0, encodeHello(buf, 0, fixed));
  assert.deepEqual(plain, { ok: true, value: { type: 'hello', ...fixed } });
  const withDns = decodeControl(buf, 0, encodeHello(buf, 0, { ...fixed, dns: { dnsIp: 9, domain: 'cluster.local' } }));
  assert.ok(withDns.ok && withDns.value.type === 'hello');
  assert.equal(withDns.value.meshDnsPort, undefined);
  assert.equal(withDns.value.badExtensions, undefined);
});

test('a malformed known extension is ignored and reported, the hello and the other extensions stand', () => {
  const fixed = new Uint8Array(HELLO_BYTES);
  encodeHello(fixed, 0, { version: 1, capabilities: 0, clusterAddress: 7, maxFramePayload: 1500 });
  const dns = [HelloExtension.dns, 4 + 2, 0, 0, 0, 9, ...Buffer.from('c2')];
  const decode = (...ext: number[]) => {
    const payload = Uint8Array.from([...fixed, ...ext]);
    const d = decodeControl(payload, 0, payload.length);
    assert.ok(d.ok && d.value.type === 'hello' && d.value.clusterAddress === 7);
    return d.value;
  };
  const wrongLength = decode(HelloExtension.meshDnsPort, 3, 0x1f, 0x95, 0, ...dns);
  assert.equal(wrongLength.meshDnsPort, undefined);
  assert.deepEqual(wrongLength.dns, { dnsIp: 9, domain: 'c2' }, 'the next extension is still read');
  assert.deepEqual(wrongLength.badExtensions, ['mesh DNS port extension: 3 bytes, 2 needed']);
  const short = decode(HelloExtension.meshDnsPort, 1, 0x1f);
  assert.equal(short.meshDnsPort, undefined);
  assert.deepEqual(short.badExtensions, ['mesh DNS port extension: 1 bytes, 2 needed']);
  const truncated = decode(...dns, HelloExtension.meshDnsPort, 2, 0x1f);
  assert.deepEqual(truncated.dns, { dnsIp: 9, domain: 'c2' });
  assert.equal(truncated.meshDnsPort, undefined);
  assert.deepEqual(truncated.badExtensions, ['extension 0x02 truncated: 2 bytes announced, 1 left']);
  const badDomain = decode(HelloExtension.dns, 4 + 2, 0, 0, 0, 9, 0x41, 0x0a, HelloExtension.meshDnsPort, 2, 0x1f, 0x95);
  assert.equal(badDomain.dns, undefined);
  assert.equal(badDomain.meshDnsPort, 8085);
  assert.deepEqual(badDomain.badExtensions, ['DNS extension: the domain is not a lower-case host name']);
  const unknown = decode(0x7f, 3, 1, 2, 3, HelloExtension.meshDnsPort, 2, 0, 53);
  assert.equal(unknown.meshDnsPort, 53);
  assert.equal(unknown.badExtensions, undefined, 'unknown types are skipped silently: a newer peer may send them');
});

test('keepalive and its ack carry the sequence number and the send time for the round-trip time', () => {
  const buf = new Uint8Array(2 * KEEPALIVE_BYTES);
  const keepalive = { seq: 0xfffffffe, sentTimeMs: 123456.789 };
  assert.equal(encodeKeepalive(buf, 0, keepalive), KEEPALIVE_BYTES);
  assert.equal(encodeKeepaliveAck(buf, KEEPALIVE_BYTES, keepalive), KEEPALIVE_BYTES);
  assert.deepEqual(decodeControl(buf, 0, KEEPALIVE_BYTES), { ok: true, value: { type: 'keepalive', ...keepalive } });
  assert.deepEqual(decodeControl(buf, KEEPALIVE_BYTES, KEEPALIVE_BYTES), { ok: true, value: { type: 'keepaliveAck', ...keepalive } });
});

test('short and unknown control frames decode to a reason', () => {
  const buf = new Uint8Array(HELLO_BYTES);
  encodeHello(buf, 0, { version: 1, capabilities: 0, clusterAddress: 0, maxFramePayload: 1 });
  const short = decodeControl(buf, 0, HELLO_BYTES - 1);
  assert.equal(short.ok, false);
  assert.match(!short.ok ? short.reason : '', /hello needs 14 bytes/);
  const unknown = decodeControl(Uint8Array.of(0x3f, 0, 0), 0, 3);
  assert.deepEqual(unknown, { ok: false, reason: 'unknown control type 0x3f' });
  assert.equal(decodeControl(buf, 0, 0).ok, false);
});

test('only the defined control types are known; IP first bytes are not control', () => {
  assert.deepEqual([0x00, 0x01, 0x02, 0x03, 0x04, 0x3f, 0x45, 0x60].map(isKnownControlType), [false, true, true, true, false, false, false, false]);
});

test('encoding into a buffer that is too small throws instead of writing past it', () => {
  assert.throws(() => encodeHello(new Uint8Array(HELLO_BYTES), 1, { version: 1, capabilities: 0, clusterAddress: 0, maxFramePayload: 1 }), RangeError);
  assert.throws(() => encodeKeepalive(new Uint8Array(5), 0, { seq: 1, sentTimeMs: 1 }), RangeError);
});

test('gso: capability bit 0, offload type 0x10 in the control range but not a control frame, 64 KiB + 11 byte payloads', () => {
  assert.equal(CAPABILITY_GSO, 1);
  assert.equal(OFFLOAD_FRAME_TYPE, 0x10);
  assert.ok(OFFLOAD_FRAME_TYPE <= CONTROL_TYPE_MAX, 'an old peer counts it as an unknown control frame, never as IP');
  assert.equal(isKnownControlType(OFFLOAD_FRAME_TYPE), false);
  assert.equal(MAX_OFFLOAD_FRAME_PAYLOAD, 65535 + 11);
});

test('large frames: a zero u16 then a u32 big-endian length, used only above 65535 bytes', () => {
  const buf = new Uint8Array(8);
  writeLargeFrameHeader(buf, 1, 0x0001000a);
  assert.deepEqual([...buf], [0, 0, 0, 0, 1, 0, 0x0a, 0]);
  assert.equal(readFrameLength(buf, 1), 0, 'reads as the escape');
  assert.equal(readLargeFrameLength(buf, 1), 0x1000a);
  assert.equal(frameHeaderBytes(65535), 2);
  assert.equal(frameHeaderBytes(65536), LARGE_FRAME_HEADER_BYTES);
});
