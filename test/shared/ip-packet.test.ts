import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipPacketValid, ipVersion, ipv4Destination, ipv4Source } from '../../src/shared/ip-packet.js';
import { parseIpv4 } from '../../src/shared/cidr.js';
import { ipv4Packet, ipv6Packet } from '../fixtures/ip-fixtures.js';

test('ipVersion reads the first nibble at an offset', () => {
  const buf = Buffer.concat([Buffer.from([0xff, 0xff]), ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8' })]);
  assert.equal(ipVersion(buf, 2), 4);
  assert.equal(ipVersion(ipv6Packet(0), 0), 6);
  assert.equal(ipVersion(Buffer.from([0x01]), 0), 0);
});

test('ipv4 source and destination come out as unsigned integers, also above 2^31', () => {
  const buf = Buffer.concat([Buffer.alloc(3), ipv4Packet({ source: '192.168.0.11', destination: '255.254.253.252' })]);
  assert.equal(ipv4Source(buf, 3), parseIpv4('192.168.0.11'));
  assert.equal(ipv4Destination(buf, 3), 0xfffefdfc);
});

test('a well-formed IPv4 packet is valid, also with options and at an offset', () => {
  assert.ok(ipPacketValid(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2' }), 0, 60));
  assert.ok(ipPacketValid(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', length: 20 }), 0, 20));
  assert.ok(ipPacketValid(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', ihl: 15 }), 0, 60));
  const shifted = Buffer.concat([Buffer.alloc(5), ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', length: 100 })]);
  assert.ok(ipPacketValid(shifted, 5, 100));
});

test('IPv4 packets with a short or inconsistent header are invalid', () => {
  const packet = (spec: Partial<Parameters<typeof ipv4Packet>[0]>) => ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', ...spec });
  assert.equal(ipPacketValid(packet({ length: 19 }), 0, 19), false, 'shorter than 20 bytes');
  assert.equal(ipPacketValid(packet({ ihl: 4 }), 0, 60), false, 'IHL below 5');
  assert.equal(ipPacketValid(packet({ ihl: 15, length: 40 }), 0, 40), false, 'header longer than the packet');
  assert.equal(ipPacketValid(packet({ totalLengthField: 61 }), 0, 60), false, 'total length beyond the frame');
  assert.equal(ipPacketValid(packet({ totalLengthField: 59 }), 0, 60), false, 'total length short of the frame');
  assert.equal(ipPacketValid(packet({}), 0, 0), false, 'empty');
});

test('IPv6 packets are valid when the payload length matches the frame', () => {
  assert.ok(ipPacketValid(ipv6Packet(20), 0, 60));
  assert.equal(ipPacketValid(ipv6Packet(20, 21), 0, 60), false);
  assert.equal(ipPacketValid(ipv6Packet(0).subarray(0, 39), 0, 39), false);
});

test('payloads that are not IP are invalid', () => {
  assert.equal(ipPacketValid(Buffer.from([0x01, 0, 0, 0]), 0, 4), false);
  assert.equal(ipPacketValid(Buffer.alloc(60, 0x55), 0, 60), false);
});
