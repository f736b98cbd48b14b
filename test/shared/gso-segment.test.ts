import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tcpv4Segmenter, completeChecksum, completeRecordChecksum, type SegmentSink } from '../../src/shared/gso-segment.js';
import { VNET_HDR_BYTES, isTrivialVnetHeader } from '../../src/shared/gso-header.js';
import { ipv4Packet } from '../fixtures/ip-fixtures.js';
import { checksum16, TCP_FLAG, payloadBytes, superPacketRecord, tcpv4ChecksumsValid, tcpv4Packet, vnetRecord } from '../fixtures/tcp-fixtures.js';

const A = '192.168.0.11';
const B = '100.64.16.10';
const TIMESTAMP_OPTION = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2);

class Segments implements SegmentSink {
  readonly packets: Buffer[] = [];
  onSegment(buf: Uint8Array, offset: number, length: number): void {
    this.packets.push(Buffer.from(buf.subarray(offset, offset + length)));
  }
}

function segment(record: Buffer, at = 0): Buffer[] {
  const sink = new Segments();
  const count = new Tcpv4Segmenter().segment(record, at, record.length - at, sink);
  assert.equal(count, sink.packets.length);
  return sink.packets;
}

test('a super-packet becomes gso_size segments with lengths, ids, seqs and both checksums as the kernel makes them', () => {
  const payload = payloadBytes(10_000);
  const packet = tcpv4Packet({ source: A, destination: B, seq: 0xffff_f000, id: 0xfffe, payload, options: TIMESTAMP_OPTION, checksum: 'partial' });
  const segments = segment(superPacketRecord(packet, 1436));
  assert.equal(segments.length, 7); // 6 x 1436 + 1384
  let seq = 0xffff_f000;
  for (const [i, s] of segments.entries()) {
    const payloadLength = i < 6 ? 1436 : 10_000 - 6 * 1436;
    assert.equal(s.length, 20 + 32 + payloadLength, `segment ${i} length`);
    assert.equal(s.readUInt16BE(2), s.length, 'IP total length');
    assert.equal(s.readUInt16BE(4), (0xfffe + i) & 0xffff, 'IP id counts up (and wraps)');
    assert.equal(s.readUInt32BE(24), seq >>> 0, 'TCP seq');
    assert.deepEqual(s.subarray(40, 52), Buffer.from(TIMESTAMP_OPTION), 'options repeated');
    assert.ok(tcpv4ChecksumsValid(s), `segment ${i} checksums`);
    seq += payloadLength;
  }
  assert.deepEqual(Buffer.concat(segments.map((s) => s.subarray(52))), payload, 'payload cut in order');
});

test('FIN and PSH stay on the last segment only, CWR on the first only; ACK and ECE on all', () => {
  const flags = TCP_FLAG.ack | TCP_FLAG.psh | TCP_FLAG.fin | TCP_FLAG.cwr | TCP_FLAG.ece;
  const packet = tcpv4Packet({ source: A, destination: B, flags, payload: payloadBytes(3000), checksum: 'partial' });
  const segments = segment(superPacketRecord(packet, 1000, 0x81));
  assert.deepEqual(segments.map((s) => s[33]), [
    TCP_FLAG.ack | TCP_FLAG.ece | TCP_FLAG.cwr,
    TCP_FLAG.ack | TCP_FLAG.ece,
    TCP_FLAG.ack | TCP_FLAG.ece | TCP_FLAG.psh | TCP_FLAG.fin,
  ]);
  for (const s of segments) assert.ok(tcpv4ChecksumsValid(s));
});

test('a super-packet whose payload fits one segment (or is empty) comes out as one packet with a full checksum', () => {
  for (const length of [0, 1, 1448]) {
    const packet = tcpv4Packet({ source: A, destination: B, payload: payloadBytes(length), checksum: 'partial' });
    const segments = segment(superPacketRecord(packet, 1448));
    assert.equal(segments.length, 1);
    assert.equal(segments[0]!.length, packet.length);
    assert.ok(tcpv4ChecksumsValid(segments[0]!));
    assert.deepEqual(segments[0]!.subarray(40), packet.subarray(40));
  }
});

test('a record at an offset inside a larger buffer segments the same', () => {
  const record = superPacketRecord(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(5000), checksum: 'partial' }), 1448);
  const shifted = Buffer.concat([Buffer.alloc(13, 0xee), record]);
  assert.deepEqual(segment(shifted, 13), segment(record));
});

test('the largest super-packet (64 KiB) cuts into 46 valid segments', () => {
  const payload = payloadBytes(65535 - 40);
  const segments = segment(superPacketRecord(tcpv4Packet({ source: A, destination: B, payload, checksum: 'partial' }), 1448));
  assert.equal(segments.length, 46);
  assert.ok(segments.every(tcpv4ChecksumsValid));
  assert.deepEqual(Buffer.concat(segments.map((s) => s.subarray(40))), payload);
});

test('completeChecksum turns a partial TCP checksum into the full one (odd lengths included)', () => {
  for (const length of [0, 1, 2, 999, 1400]) {
    const full = tcpv4Packet({ source: A, destination: B, payload: payloadBytes(length, length) });
    const partial = tcpv4Packet({ source: A, destination: B, payload: payloadBytes(length, length), checksum: 'partial' });
    assert.notDeepEqual(partial, full);
    completeChecksum(partial, 0, partial.length, 20, 16);
    assert.deepEqual(partial, full, `payload ${length}`);
  }
});

test('completeChecksum of UDP writes 0xffff for a computed zero, never 0 (0 means no checksum)', () => {
  const udp = Buffer.from(ipv4Packet({ source: A, destination: B, length: 30 }));
  udp.fill(0, 20);
  udp.writeUInt16BE(10, 24); // UDP length
  // Choose the payload so that the one's-complement sum of [20, 30) is 0xffff.
  const partial = checksum16(udp.subarray(20));
  udp.writeUInt16BE(~partial & 0xffff, 28);
  assert.equal(checksum16(udp.subarray(20)), 0xffff);
  completeChecksum(udp, 0, udp.length, 20, 6);
  assert.equal(udp.readUInt16BE(26), 0xffff);
});

test('completeRecordChecksum completes in place and leaves a trivial header', () => {
  const packet = tcpv4Packet({ source: A, destination: B, payload: payloadBytes(77), checksum: 'partial' });
  const record = vnetRecord({ flags: 1, csumStart: 20, csumOffset: 16 }, packet);
  completeRecordChecksum(record, 0, record.length);
  assert.ok(isTrivialVnetHeader(record, 0));
  assert.ok(tcpv4ChecksumsValid(record.subarray(VNET_HDR_BYTES)));
});
