// The check every packet received from a peer passes before it may reach the TUN
// (docs/architecture.md, "Inbound check"). The peer's broker SNATs everything it sends to
// its cluster address, and ours SNATs everything we send to ours, so:
//
//   source                         destination                  verdict
//   peer cluster address (a request, or a reply from a service published on its cluster
//   address in port mode)
//                                  our cluster address          pass (replies come back here;
//                                                               new connections to it are the
//                                                               gateway's conntrack rules' job)
//                                  a published mesh address     pass if the protocol and port are
//                                                               published and the link's ingress
//                                                               admits the address
//                                  our service CIDR             pass if the link's ingress admits it
//                                  anything else                foreign-destination
//   peer service CIDR or a prefix of the link's egress (replies to our requests: the peer
//   un-DNATs them back to the service IP or mesh address we called)
//                                  our cluster address          pass
//                                  anything else                foreign-destination
//   anything else                                               spoofed-source
//
// Egress sources are admitted as replies only: a request never comes from them, because
// the peer's own SNAT rewrote it to its cluster address.
//
// Everything here runs per packet: integer math on prefixes compiled to (network, mask)
// word pairs once per link change (compileInboundPeer) or MeshService change
// (compilePublished), no allocation, no Map.
import { prefixMask } from './cidr.js';
import { IPV4_MIN_HEADER_BYTES, ipv4Destination, ipv4Source } from './ip-packet.js';
import type { IngressRule, Ipv4Prefix } from './types.js';

/** Drop reasons; a reason's code is its index + 1 (0 means pass). Metric labels. */
export const INBOUND_DROP_REASONS = ['spoofed-source', 'foreign-destination', 'ipv6-unsupported', 'malformed', 'ingress-denied'] as const;
export type InboundDropReason = (typeof INBOUND_DROP_REASONS)[number];

export const INBOUND_PASS = 0;
/** Stable numeric codes of the drop reasons, for counters indexed by code. */
export const InboundDrop = {
  spoofedSource: 1,
  foreignDestination: 2,
  ipv6Unsupported: 3,
  malformed: 4,
  ingressDenied: 5,
} as const;
export type InboundVerdict = typeof INBOUND_PASS | (typeof InboundDrop)[keyof typeof InboundDrop];

/** Name of a drop code (the metric label); undefined for INBOUND_PASS. */
export function inboundDropReasonName(code: number): InboundDropReason | undefined {
  return INBOUND_DROP_REASONS[code - 1];
}

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** The peer side of the check, compiled once per link change. Prefixes are (network|0, mask|0) pairs. */
export interface InboundPeer {
  clusterAddress: number;
  /** Sources of replies: the peer's service CIDR and the link's egress prefixes. */
  replySources: Int32Array;
  /** spec.ingress allows; empty: every local destination. */
  ingressAllow: Int32Array;
  /** spec.ingress denies (`!CIDR`). */
  ingressDeny: Int32Array;
}

/** Local addresses published by MeshServices with their ports, sorted for binary search. */
export interface PublishedTable {
  /** Mesh addresses, ascending (unsigned). */
  addresses: Uint32Array;
  /** Ports of addresses[i] are ports[portStart[i] .. portStart[i+1]). */
  portStart: Int32Array;
  /** (protocol << 16) | port. */
  ports: Int32Array;
}

/** This broker's side of the check. `published` is replaced when MeshServices change. */
export interface InboundLocal {
  clusterAddress: number;
  serviceCidr: Ipv4Prefix;
  published: PublishedTable;
}

/** A published mesh address and what it serves (protocol numbers IPPROTO_TCP / IPPROTO_UDP). */
export interface PublishedAddress {
  address: number;
  ports: readonly { protocol: number; port: number }[];
}

function prefixPairs(prefixes: readonly Ipv4Prefix[]): Int32Array {
  const pairs = new Int32Array(prefixes.length * 2);
  prefixes.forEach((p, i) => {
    pairs[2 * i] = p.network | 0;
    pairs[2 * i + 1] = prefixMask(p.prefixLength) | 0;
  });
  return pairs;
}

/** Compiles a link's side of the check (main thread, on every link change). */
export function compileInboundPeer(link: { clusterAddress: number; serviceCidr?: Ipv4Prefix; egress?: readonly Ipv4Prefix[]; ingress?: IngressRule }): InboundPeer {
  const replySources = [...(link.serviceCidr ? [link.serviceCidr] : []), ...(link.egress ?? [])];
  return {
    clusterAddress: link.clusterAddress >>> 0,
    replySources: prefixPairs(replySources),
    ingressAllow: prefixPairs(link.ingress?.allow ?? []),
    ingressDeny: prefixPairs(link.ingress?.deny ?? []),
  };
}

export const NO_PUBLISHED: PublishedTable = { addresses: new Uint32Array(0), portStart: new Int32Array(1), ports: new Int32Array(0) };

/** Compiles the published mesh addresses (on every MeshService change). Duplicates merge. */
export function compilePublished(published: readonly PublishedAddress[]): PublishedTable {
  const byAddress = new Map<number, Set<number>>();
  for (const p of published) {
    const set = byAddress.get(p.address >>> 0) ?? new Set<number>();
    for (const { protocol, port } of p.ports) set.add((protocol << 16) | port);
    byAddress.set(p.address >>> 0, set);
  }
  const addresses = Uint32Array.from([...byAddress.keys()].sort((a, b) => a - b));
  const portStart = new Int32Array(addresses.length + 1);
  const ports: number[] = [];
  addresses.forEach((address, i) => {
    portStart[i] = ports.length;
    ports.push(...byAddress.get(address)!);
  });
  portStart[addresses.length] = ports.length;
  return { addresses, portStart, ports: Int32Array.from(ports) };
}

function inPairs(pairs: Int32Array, address: number): boolean {
  const key = address | 0;
  for (let i = 0; i < pairs.length; i += 2) {
    if ((key & pairs[i + 1]!) === pairs[i]) return true;
  }
  return false;
}

/** Index of `address` in the published addresses, or -1. */
function publishedIndex(table: PublishedTable, address: number): number {
  const addresses = table.addresses;
  let low = 0;
  let high = addresses.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const value = addresses[mid]!;
    if (value === address) return mid;
    if (value < address) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/**
 * Whether the packet may reach the published address at `index`: TCP or UDP to a published
 * port, or an ICMP error (destination unreachable, time exceeded, parameter problem) about
 * a flow of the service. A fragment other than the first carries no port: it passes,
 * because the kernel reassembles before NAT and a datagram whose first fragment was dropped
 * here is never delivered.
 */
function portPublished(buf: Uint8Array, offset: number, length: number, table: PublishedTable, index: number): boolean {
  const fragmentOffset = ((buf[offset + 6]! & 0x1f) << 8) | buf[offset + 7]!;
  if (fragmentOffset !== 0) return true;
  const protocol = buf[offset + 9]!;
  const headerBytes = (buf[offset]! & 0x0f) * 4;
  if (protocol === IPPROTO_ICMP) {
    if (length < headerBytes + 1) return false;
    const type = buf[offset + headerBytes]!;
    return type === 3 || type === 11 || type === 12;
  }
  if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) return false;
  if (length < headerBytes + 4) return false;
  const wanted = (protocol << 16) | (buf[offset + headerBytes + 2]! << 8) | buf[offset + headerBytes + 3]!;
  const ports = table.ports;
  for (let i = table.portStart[index]!, end = table.portStart[index + 1]!; i < end; i++) {
    if (ports[i] === wanted) return true;
  }
  return false;
}

function ingressAdmits(peer: InboundPeer, destination: number): boolean {
  if (peer.ingressAllow.length > 0 && !inPairs(peer.ingressAllow, destination)) return false;
  return !inPairs(peer.ingressDeny, destination);
}

/**
 * Decides whether a packet from `peer` may be written to the local TUN. Returns
 * INBOUND_PASS or an InboundDrop code. Expects a frame the decoder already validated,
 * but checks the length itself so it is safe on any bytes.
 */
export function checkInbound(buf: Uint8Array, offset: number, length: number, peer: InboundPeer, local: InboundLocal): InboundVerdict {
  if (length < 1) return InboundDrop.malformed;
  const version = buf[offset]! >>> 4;
  if (version === 6) return InboundDrop.ipv6Unsupported;
  if (version !== 4 || length < IPV4_MIN_HEADER_BYTES) return InboundDrop.malformed;
  const source = ipv4Source(buf, offset);
  const destination = ipv4Destination(buf, offset);
  if (source === peer.clusterAddress) {
    if (destination === local.clusterAddress) return INBOUND_PASS;
    const index = publishedIndex(local.published, destination);
    if (index >= 0) {
      if (!portPublished(buf, offset, length, local.published, index)) return InboundDrop.ingressDenied;
    } else {
      const service = local.serviceCidr;
      if (((destination & prefixMask(service.prefixLength)) >>> 0) !== service.network) return InboundDrop.foreignDestination;
    }
    return ingressAdmits(peer, destination) ? INBOUND_PASS : InboundDrop.ingressDenied;
  }
  if (inPairs(peer.replySources, source)) {
    return destination === local.clusterAddress ? INBOUND_PASS : InboundDrop.foreignDestination;
  }
  return InboundDrop.spoofedSource;
}
