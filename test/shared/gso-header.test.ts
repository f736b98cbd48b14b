import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GsoType, MIN_GSO_SIZE, VNET_HDR_BYTES, VnetFlag, gsoSegmentCount, isTcpv4Gso, isTrivialVnetHeader,
  offloadRecordProblem, readVnetHeader, writeVnetHeader,
} from '../../src/shared/gso-header.js';
import { ipv4Packet, ipv6Packet } from '../fixtures/ip-fixtures.js';
import { TCP_FLAG, payloadBytes, superPacketRecord, tcpv4Packet, vnetRecord } from '../fixtures/tcp-fixtures.js';

const A = '192.168.0.11';
const B = '100.64.16.10';

function superPacket(payloadLength = 20_000, gsoSize = 1448): Buffer {
  return superPacketRecord(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(payloadLength), checksum: 'partial' }), gsoSize);
}

function problem(record: Buffer): string | undefined {
  return offloadRecordProblem(record, 0, record.length);
}

test('the header is 10 bytes with little-endian fields, and reads back what was written', () => {
  const buf = new Uint8Array(12);
  const header = { flags: 1, gsoType: 0x81, hdrLen: 0x0134, gsoSize: 0x05a8, csumStart: 20, csumOffset: 16 };
  writeVnetHeader(buf, 2, header);
  assert.equal(VNET_HDR_BYTES, 10);
  assert.deepEqual([...buf.subarray(2)], [1, 0x81, 0x34, 0x01, 0xa8, 0x05, 20, 0, 16, 0]);
  assert.deepEqual(readVnetHeader(buf, 2), header);
});

test('a zero header is trivial; NEEDS_CSUM or a gso_type is not; DATA_VALID alone is', () => {
  const packet = tcpv4Packet({ source: A, destination: B });
  assert.equal(isTrivialVnetHeader(vnetRecord({}, packet), 0), true);
  assert.equal(isTrivialVnetHeader(vnetRecord({ flags: VnetFlag.dataValid }, packet), 0), true);
  assert.equal(isTrivialVnetHeader(vnetRecord({ flags: VnetFlag.needsCsum, csumStart: 20, csumOffset: 16 }, packet), 0), false);
  assert.equal(isTrivialVnetHeader(superPacket(), 0), false);
  assert.equal(isTcpv4Gso(superPacket(), 0), true);
  assert.equal(isTcpv4Gso(superPacketRecord(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(3000) }), 1448, 0x81), 0), true);
});

test('the kernel-style records kubelink forwards pass: plain, NEEDS_CSUM TCP and UDP, TCPV4 and TCPV4|ECN super-packets', () => {
  assert.equal(problem(vnetRecord({}, tcpv4Packet({ source: A, destination: B }))), undefined);
  assert.equal(problem(vnetRecord({ flags: 1, csumStart: 20, csumOffset: 16 }, tcpv4Packet({ source: A, destination: B, checksum: 'partial' }))), undefined);
  const udp = ipv4Packet({ source: A, destination: B, length: 100 });
  assert.equal(problem(vnetRecord({ flags: 1, csumStart: 20, csumOffset: 6 }, udp)), undefined);
  assert.equal(problem(superPacket()), undefined);
  assert.equal(problem(superPacketRecord(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(65535 - 40) }), 1448, GsoType.tcpv4 | GsoType.ecn)), undefined);
  assert.equal(problem(superPacket(100, MIN_GSO_SIZE)), undefined, 'gso_size at the floor');
});

test('records the kernel must never get from a peer are refused with the reason', () => {
  const packet = tcpv4Packet({ source: A, destination: B, payload: payloadBytes(3000), checksum: 'partial' });
  const cases: [string, Buffer, RegExp][] = [
    ['IPv6', vnetRecord({}, ipv6Packet(40)), /not IPv4/],
    ['truncated IP', vnetRecord({}, packet.subarray(0, 100)), /not a valid IP packet/],
    ['header only', Buffer.alloc(VNET_HDR_BYTES), /not a valid IP packet/],
    ['DATA_VALID forwarded', vnetRecord({ flags: VnetFlag.dataValid }, packet), /flags 0x2/],
    ['unknown flag', vnetRecord({ flags: 0x05, csumStart: 20, csumOffset: 16 }, packet), /flags 0x5/],
    ['hdr_len beyond packet', superPacketRecord(packet, 1448).fill(0xff, 2, 4), /hdr_len/],
    ['TCPV6', vnetRecord({ flags: 1, gsoType: GsoType.tcpv6, gsoSize: 1448, csumStart: 20, csumOffset: 16 }, packet), /gso_type 0x4/],
    ['UDP (UFO)', vnetRecord({ flags: 1, gsoType: GsoType.udp, gsoSize: 1448, csumStart: 20, csumOffset: 6 }, ipv4Packet({ source: A, destination: B, length: 3000 })), /csum_offset 6 for protocol 17|gso_type 0x3/],
    ['ECN without TCPV4', vnetRecord({ flags: 1, gsoType: GsoType.ecn, gsoSize: 1448, csumStart: 20, csumOffset: 16 }, packet), /gso_type 0x80/],
    ['gso_size below the floor', superPacketRecord(packet, MIN_GSO_SIZE - 1), /gso_size 47 below 48/],
    ['gso_size 0', superPacketRecord(packet, 0), /gso_size 0/],
    ['gso_size without gso_type', vnetRecord({ gsoSize: 1448 }, packet), /gso_size without gso_type/],
    ['TCPV4 without NEEDS_CSUM', vnetRecord({ gsoType: 1, gsoSize: 1448 }, packet), /without NEEDS_CSUM/],
    ['TCPV4 on UDP', vnetRecord({ flags: 1, gsoType: 1, gsoSize: 1448, csumStart: 20, csumOffset: 6 }, ipv4Packet({ source: A, destination: B, length: 3000 })), /non-TCP/],
    ['csum_start not the transport header', vnetRecord({ flags: 1, csumStart: 24, csumOffset: 16 }, packet), /csum_start/],
    ['csum_offset not the TCP checksum', vnetRecord({ flags: 1, csumStart: 20, csumOffset: 6 }, packet), /csum_offset 6 for protocol 6/],
    ['checksum of another protocol', vnetRecord({ flags: 1, csumStart: 20, csumOffset: 2 }, Buffer.from(ipv4Packet({ source: A, destination: B, length: 40 })).fill(1, 9, 10)), /csum_offset 2 for protocol 1/],
  ];
  for (const [name, record, reason] of cases) assert.match(problem(record) ?? 'accepted', reason, name);
});

test('fragments and TCP headers outside the packet are refused', () => {
  const fragment = Buffer.from(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(3000), checksum: 'partial' }));
  fragment.writeUInt16BE(0x2000, 6); // MF
  assert.match(problem(superPacketRecord(fragment, 1448)) ?? '', /fragment/);
  assert.match(problem(vnetRecord({ flags: 1, csumStart: 20, csumOffset: 16 }, fragment)) ?? '', /fragment/);
  const badOffset = Buffer.from(tcpv4Packet({ source: A, destination: B, payload: payloadBytes(10), checksum: 'partial' }));
  badOffset[32] = 0xf0; // data offset 60 bytes > packet
  assert.match(problem(superPacketRecord(badOffset, 1448).fill(0, 2, 4)) ?? '', /data offset/);
  const shortTcp = ipv4Packet({ source: A, destination: B, length: 30 });
  shortTcp[9] = 6;
  assert.match(problem(vnetRecord({ flags: 1, gsoType: 1, gsoSize: 1448, csumStart: 20, csumOffset: 16 }, shortTcp)) ?? '', /checksum field beyond|TCP header beyond/);
});

test('gsoSegmentCount is payload / gso_size rounded up, and 1 for anything that is not a super-packet', () => {
  assert.equal(gsoSegmentCount(superPacket(20_000, 1448), 0, superPacket(20_000, 1448).length), 14);
  assert.equal(gsoSegmentCount(superPacket(1448 * 3, 1448), 0, superPacket(1448 * 3, 1448).length), 3);
  const plain = vnetRecord({}, tcpv4Packet({ source: A, destination: B, flags: TCP_FLAG.ack }));
  assert.equal(gsoSegmentCount(plain, 0, plain.length), 1);
});
