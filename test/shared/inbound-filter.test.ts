import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INBOUND_DROP_REASONS, INBOUND_PASS, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, InboundDrop, NO_PUBLISHED, checkInbound, compileInboundPeer, compilePublished,
  inboundDropReasonName, type InboundLocal, type InboundPeer,
} from '../../src/shared/inbound-filter.js';
import { parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import type { Ipv4Prefix } from '../../src/shared/types.js';
import { ipv4Packet, ipv6Packet, type Ipv4PacketSpec } from '../fixtures/ip-fixtures.js';

function prefix(text: string): Ipv4Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

// We are cluster 1, the packet came through the tunnel from cluster 2.
const local: InboundLocal = { clusterAddress: parseIpv4('192.168.0.11')!, serviceCidr: prefix('100.64.0.0/20'), published: NO_PUBLISHED };
const peer: InboundPeer = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('100.64.16.0/20') });

function verdict(source: string, destination: string, from: InboundPeer = peer, to: InboundLocal = local, extra: Partial<Ipv4PacketSpec> = {}): number {
  const packet = Buffer.concat([Buffer.alloc(2), ipv4Packet({ source, destination, ...extra })]);
  return checkInbound(packet, 2, packet.length - 2, from, to);
}

test('drop reasons have stable codes: index + 1, with 0 meaning pass', () => {
  assert.deepEqual(INBOUND_DROP_REASONS, ['spoofed-source', 'foreign-destination', 'ipv6-unsupported', 'malformed', 'ingress-denied']);
  for (const [i, name] of INBOUND_DROP_REASONS.entries()) assert.equal(inboundDropReasonName(i + 1), name);
  assert.equal(inboundDropReasonName(INBOUND_PASS), undefined);
  assert.equal(InboundDrop.spoofedSource, 1);
  assert.equal(InboundDrop.malformed, 4);
  assert.equal(InboundDrop.ingressDenied, 5);
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

test('a packet from a peer service is a reply: it may go to our cluster address only, never to a local service', () => {
  assert.equal(verdict('100.64.16.10', '192.168.0.11'), INBOUND_PASS);
  assert.equal(verdict('100.64.16.10', '100.64.0.10'), InboundDrop.foreignDestination);
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
  const highPeer = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('240.0.0.0/4') });
  const packet = ipv4Packet({ source: '250.1.2.3', destination: '192.168.0.11' });
  assert.equal(checkInbound(packet, 0, packet.length, highPeer, local), INBOUND_PASS);
});

// --- egress, ingress and published mesh addresses ---

// c2 publishes nothing on its service CIDR (it overlaps ours); c1's link to it has egress
// [192.168.0.100/32] (c2's MeshService address) and no cidr.
const egressPeer = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, egress: [prefix('192.168.0.100/32')] });

test('a link without cidr admits replies from its egress to our cluster address, and nothing else from there', () => {
  assert.equal(verdict('192.168.0.100', '192.168.0.11', egressPeer), INBOUND_PASS, 'the reply of the mesh service we called');
  assert.equal(verdict('192.168.0.100', '100.64.0.10', egressPeer), InboundDrop.foreignDestination, 'a request from an egress address');
  assert.equal(verdict('100.64.16.10', '192.168.0.11', egressPeer), InboundDrop.spoofedSource, 'no cidr: the peer service network is not a source');
  assert.equal(verdict('192.168.0.12', '100.64.0.10', egressPeer), INBOUND_PASS, 'requests still come from the cluster address');
});

// We (c1) publish echo at 192.168.0.100 (tcp/80, udp/53) and another service at 192.168.0.101 (tcp/8080).
const publishing: InboundLocal = {
  ...local,
  published: compilePublished([
    { address: parseIpv4('192.168.0.101')!, ports: [{ protocol: IPPROTO_TCP, port: 8080 }] },
    { address: parseIpv4('192.168.0.100')!, ports: [{ protocol: IPPROTO_TCP, port: 80 }, { protocol: IPPROTO_UDP, port: 53 }] },
  ]),
};

test('a published mesh address admits its published protocol and port only', () => {
  const to = (address: string, extra: Partial<Ipv4PacketSpec>) => verdict('192.168.0.12', address, peer, publishing, extra);
  assert.equal(to('192.168.0.100', { protocol: IPPROTO_TCP, destinationPort: 80 }), INBOUND_PASS);
  assert.equal(to('192.168.0.100', { protocol: IPPROTO_UDP, destinationPort: 53 }), INBOUND_PASS);
  assert.equal(to('192.168.0.101', { protocol: IPPROTO_TCP, destinationPort: 8080 }), INBOUND_PASS);
  assert.equal(to('192.168.0.100', { protocol: IPPROTO_UDP, destinationPort: 80 }), InboundDrop.ingressDenied, 'published for TCP only');
  assert.equal(to('192.168.0.100', { protocol: IPPROTO_TCP, destinationPort: 22 }), InboundDrop.ingressDenied, 'the gateway host\'s ssh behind the mesh address');
  assert.equal(to('192.168.0.101', { protocol: IPPROTO_TCP, destinationPort: 80 }), InboundDrop.ingressDenied, 'another address\'s port');
  assert.equal(to('192.168.0.100', { protocol: 47 }), InboundDrop.ingressDenied, 'GRE');
  assert.equal(to('192.168.0.102', { protocol: IPPROTO_TCP, destinationPort: 80 }), InboundDrop.foreignDestination, 'not published');
  assert.equal(to('192.168.0.100', { protocol: IPPROTO_TCP, destinationPort: 80, length: 22 }), InboundDrop.ingressDenied, 'too short for a port');
});

test('ICMP errors and later fragments reach a published address; ICMP echo does not', () => {
  const to = (extra: Partial<Ipv4PacketSpec>) => verdict('192.168.0.12', '192.168.0.100', peer, publishing, extra);
  assert.equal(to({ protocol: IPPROTO_ICMP, icmpType: 3 }), INBOUND_PASS, 'destination unreachable (PMTU)');
  assert.equal(to({ protocol: IPPROTO_ICMP, icmpType: 11 }), INBOUND_PASS, 'time exceeded');
  assert.equal(to({ protocol: IPPROTO_ICMP, icmpType: 8 }), InboundDrop.ingressDenied, 'echo request');
  assert.equal(to({ protocol: IPPROTO_TCP, destinationPort: 22, fragmentOffset: 185 }), INBOUND_PASS, 'no port in a later fragment');
});

test('spec.ingress narrows what a peer reaches: allows, denies (deny wins), never the cluster address', () => {
  const only10 = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('100.64.16.0/20'), ingress: { allow: [prefix('100.64.0.10/32')], deny: [] } });
  assert.equal(verdict('192.168.0.12', '100.64.0.10', only10), INBOUND_PASS);
  assert.equal(verdict('192.168.0.12', '100.64.0.20', only10), InboundDrop.ingressDenied);
  assert.equal(verdict('192.168.0.12', '192.168.0.100', only10, publishing, { protocol: IPPROTO_TCP, destinationPort: 80 }), InboundDrop.ingressDenied, 'a mesh address not in ingress');
  assert.equal(verdict('192.168.0.12', '192.168.0.11', only10), INBOUND_PASS, 'the cluster address: replies to our port-mode calls');
  assert.equal(verdict('100.64.16.10', '192.168.0.11', only10), INBOUND_PASS, 'replies from its services');
  assert.equal(verdict('192.168.0.12', '10.250.0.3', only10), InboundDrop.foreignDestination, 'ingress never widens');

  const denyOnly = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, ingress: { allow: [], deny: [prefix('100.64.0.20/32'), prefix('192.168.0.101/32')] } });
  assert.equal(verdict('192.168.0.12', '100.64.0.10', denyOnly), INBOUND_PASS, 'only denies: everything else of the default');
  assert.equal(verdict('192.168.0.12', '100.64.0.20', denyOnly), InboundDrop.ingressDenied);
  assert.equal(verdict('192.168.0.12', '192.168.0.100', denyOnly, publishing, { protocol: IPPROTO_TCP, destinationPort: 80 }), INBOUND_PASS);
  assert.equal(verdict('192.168.0.12', '192.168.0.101', denyOnly, publishing, { protocol: IPPROTO_TCP, destinationPort: 8080 }), InboundDrop.ingressDenied);

  const carved = compileInboundPeer({ clusterAddress: parseIpv4('192.168.0.12')!, ingress: { allow: [prefix('100.64.0.0/24')], deny: [prefix('100.64.0.20/32')] } });
  assert.equal(verdict('192.168.0.12', '100.64.0.10', carved), INBOUND_PASS);
  assert.equal(verdict('192.168.0.12', '100.64.0.20', carved), InboundDrop.ingressDenied);
  assert.equal(verdict('192.168.0.12', '100.64.1.10', carved), InboundDrop.ingressDenied);
});

test('compilePublished merges duplicate addresses and sorts them unsigned', () => {
  const table = compilePublished([
    { address: parseIpv4('250.0.0.1')!, ports: [{ protocol: IPPROTO_TCP, port: 1 }] },
    { address: parseIpv4('10.0.0.1')!, ports: [{ protocol: IPPROTO_TCP, port: 2 }] },
    { address: parseIpv4('250.0.0.1')!, ports: [{ protocol: IPPROTO_UDP, port: 3 }] },
  ]);
  assert.deepEqual([...table.addresses], [parseIpv4('10.0.0.1'), parseIpv4('250.0.0.1')]);
  assert.deepEqual([...table.portStart], [0, 1, 3]);
  const high: InboundLocal = { ...local, published: table };
  assert.equal(verdict('192.168.0.12', '250.0.0.1', peer, high, { protocol: IPPROTO_UDP, destinationPort: 3 }), INBOUND_PASS);
});
