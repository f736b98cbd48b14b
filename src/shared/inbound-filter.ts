// The check every packet received from a peer passes before it may reach the TUN
// (security model in ARCHITECTURE.md): a peer may send requests from its cluster address
// (it SNATs them) and replies from its service CIDR; they may go to our service CIDR
// (requests) or our cluster address (replies). Anything else is dropped and counted.
import { prefixContains } from './cidr.js';
import { IPV4_MIN_HEADER_BYTES, ipv4Destination, ipv4Source } from './ip-packet.js';
import type { Ipv4Prefix } from './types.js';

/** Drop reasons; a reason's code is its index + 1 (0 means pass). Metric labels. */
export const INBOUND_DROP_REASONS = ['spoofed-source', 'foreign-destination', 'ipv6-unsupported', 'malformed'] as const;
export type InboundDropReason = (typeof INBOUND_DROP_REASONS)[number];

export const INBOUND_PASS = 0;
/** Stable numeric codes of the drop reasons, for counters indexed by code. */
export const InboundDrop = {
  spoofedSource: 1,
  foreignDestination: 2,
  ipv6Unsupported: 3,
  malformed: 4,
} as const;
export type InboundVerdict = typeof INBOUND_PASS | (typeof InboundDrop)[keyof typeof InboundDrop];

/** Name of a drop code (the metric label); undefined for INBOUND_PASS. */
export function inboundDropReasonName(code: number): InboundDropReason | undefined {
  return INBOUND_DROP_REASONS[code - 1];
}

export interface InboundEndpoint {
  /** Cluster address in the mesh (unsigned 32-bit). */
  clusterAddress: number;
  serviceCidr: Ipv4Prefix;
}

/**
 * Decides whether a packet from `peer` may be written to the local TUN. Returns
 * INBOUND_PASS or an InboundDrop code. Expects a frame the decoder already validated,
 * but checks the length itself so it is safe on any bytes.
 */
export function checkInbound(buf: Uint8Array, offset: number, length: number, peer: InboundEndpoint, local: InboundEndpoint): InboundVerdict {
  if (length < 1) return InboundDrop.malformed;
  const version = buf[offset]! >>> 4;
  if (version === 6) return InboundDrop.ipv6Unsupported;
  if (version !== 4 || length < IPV4_MIN_HEADER_BYTES) return InboundDrop.malformed;
  const source = ipv4Source(buf, offset);
  if (source !== peer.clusterAddress && !prefixContains(peer.serviceCidr, source)) return InboundDrop.spoofedSource;
  const destination = ipv4Destination(buf, offset);
  if (destination !== local.clusterAddress && !prefixContains(local.serviceCidr, destination)) return InboundDrop.foreignDestination;
  return INBOUND_PASS;
}
