import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INBOUND_DROP_REASONS, INBOUND_PASS, InboundDrop, checkInbound, inboundDropReasonName, type InboundEndpoint,
} from '../../src/shared/inbound-filter.js';
import { parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import type { Ipv4Prefix } from '../../src/shared/types.js';
import { ipv4Packet, ipv6Packet } from './ip-fixtures.js';

function prefix(text: string): Ipv4Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

// We are cluster 1, the packet came through the tunnel from cluster 2.
const local: InboundEndpoint = { clusterAddress: parseIpv4('192.168.0.11')!, serviceCidr: prefix('100.64.0.0/20') };
const peer: InboundEndpoint = { clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('100.64.16.0/20') };

function verdict(source: string, destination: string): number {
  const packet = Buffer.concat([Buffer.alloc(2), ipv4Packet({ source, destination })]);
  return checkInbound(packet, 2, packet.length - 2, peer, local);
}

test('drop reasons have stable codes: index + 1, with 0 meaning pass', () => {
  assert.deepEqual(INBOUND_DROP_REASONS, ['spoofed-source', 'foreign-destination', 'ipv6-unsupported', 'malformed']);
  for (const [i, name] of INBOUND_DROP_REASONS.entries()) assert.equal(inboundDropReasonName(i + 1), name);
  assert.equal(inboundDropReasonName(INBOUND_PASS), undefined);
  assert.equal(InboundDrop.spoofedSource, 1);
  assert.equal(InboundDrop.malformed, 4);
});

test('a request from the peer\'s cluster address to a local service passes', () => {
  assert.equal(verdict('192.168.0.12', '100.64.0.10'), INBOUND_PASS);
  assert.equal(verdict('192.168.0.12', '100.64.15.255'), INBOUND_PASS);
});

test('a reply from a peer service to the local cluster address passes', () => {
  assert.equal(verdict('100.64.16.10', '192.168.0.11'), INBOUND_PASS);
  assert.equal(verdict('100.64.31.255', '192.168.0.11'), INBOUND_PASS);
});

test('a source that is neither the peer\'s cluster address nor in its service CIDR is spoofed', () => {
  assert.equal(verdict('192.168.0.13', '100.64.0.10'), InboundDrop.spoofedSource, 'another cluster\'s address');
  assert.equal(verdict('100.64.32.1', '100.64.0.10'), InboundDrop.spoofedSource, 'just outside the peer CIDR');
  assert.equal(verdict('100.64.0.5', '100.64.0.10'), InboundDrop.spoofedSource, 'our own service CIDR');
  assert.equal(verdict('10.250.0.3', '192.168.0.11'), InboundDrop.spoofedSource, 'a node address');
});

test('a destination that is neither a local service nor the local cluster address is foreign', () => {
  assert.equal(verdict('192.168.0.12', '100.64.16.10'), InboundDrop.foreignDestination, 'the peer\'s own service');
  assert.equal(verdict('192.168.0.12', '10.250.0.3'), InboundDrop.foreignDestination, 'a node address');
  assert.equal(verdict('100.64.16.10', '192.168.0.12'), InboundDrop.foreignDestination, 'back to the peer');
  assert.equal(verdict('192.168.0.12', '255.255.255.255'), InboundDrop.foreignDestination);
});

test('IPv6 packets are dropped as unsupported and non-IP or short payloads as malformed', () => {
  const v6 = ipv6Packet(20);
  assert.equal(checkInbound(v6, 0, v6.length, peer, local), InboundDrop.ipv6Unsupported);
  assert.equal(checkInbound(Buffer.from([0x01, 0, 0]), 0, 3, peer, local), InboundDrop.malformed);
  const short = ipv4Packet({ source: '192.168.0.12', destination: '100.64.0.10' });
  assert.equal(checkInbound(short, 0, 19, peer, local), InboundDrop.malformed);
  assert.equal(checkInbound(short, 0, 0, peer, local), InboundDrop.malformed);
});

test('service CIDRs at the top of the address space compare as unsigned', () => {
  const highPeer: InboundEndpoint = { clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('240.0.0.0/4') };
  const packet = ipv4Packet({ source: '250.1.2.3', destination: '192.168.0.11' });
  assert.equal(checkInbound(packet, 0, packet.length, highPeer, local), INBOUND_PASS);
});
