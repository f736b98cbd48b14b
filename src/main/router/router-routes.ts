// Which routes the router wants on this node: a pure function of the KubeLinks (as the
// broker left them, with status.gateway) and this node's IP, so every decision here is
// unit-tested without a network namespace.
//
// Per link whose gateway is another node: its service CIDR (if any) and its egress
// prefixes via that gateway. For replies
// to remote cluster addresses: the mesh CIDR via the gateway. When links are served by
// brokers on different nodes (--served-links), the mesh CIDR goes via the gateway serving
// most links and each other link's cluster address gets a /32 via its own gateway. On a
// node that is the gateway of some link, the broker's TUN already holds the mesh CIDR, so
// only those /32 routes for links served elsewhere are wanted, never the mesh CIDR.
//
// The router runs without --link-address (it has no cluster address of its own), so the
// mesh CIDR is taken from --link-address when given, else from the links' clusterAddress
// prefixes (the network most links agree on). The broker validates links thoroughly and
// marks bad ones Invalid; the checks here only keep a link that is still unvalidated (or
// written by hand) from hijacking node, pod or service traffic.
import { formatIpv4, formatPrefix, interfaceNetwork, parseInterface, parseIpv4, parsePrefix, prefixContains, prefixesOverlap } from '../../shared/cidr.js';
import type { Ipv4Interface } from '../../shared/cidr.js';
import type { Ipv4Prefix, KubeLinkResource } from '../../shared/types.js';
import type { RouteSpec } from '../net/gateway-net.js';

/** Local networks the router knows from its flags; all optional. */
export interface RouterNetworks {
  /** Mesh CIDR (network of --link-address); derived from the links when absent. */
  meshCidr?: Ipv4Prefix;
  /** Gateways must lie inside it (they are next hops on the node network). */
  nodeCidr?: Ipv4Prefix;
  podCidr?: Ipv4Prefix;
  /** The local service CIDR: a link claiming it would capture local service traffic. */
  serviceCidr?: Ipv4Prefix;
}

/** A link that gets no route, and why (for logs; the broker owns the link's status). */
export interface SkippedLink {
  name: string;
  reason: string;
}

export interface RouterPlan {
  routes: RouteSpec[];
  /** Links without routes on this node, in name order. Links this node is the gateway of are not listed. */
  skipped: SkippedLink[];
  /** The mesh CIDR in use; absent when no usable link names one. */
  meshCidr?: Ipv4Prefix;
  /** This node is the gateway (broker node) of at least one link. */
  isGateway: boolean;
}

interface Candidate {
  name: string;
  /** spec.cidr (optional) and spec.egress: what goes via the link's gateway. */
  destinations: Ipv4Prefix[];
  /** The field each destination came from, for messages. */
  cidrFields: string[];
  clusterAddress: Ipv4Interface;
  gateway: number;
}

function byName(a: KubeLinkResource, b: KubeLinkResource): number {
  const x = String(a.metadata?.name ?? '');
  const y = String(b.metadata?.name ?? '');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Parses one link and checks it against the local networks; a reason when it is unusable. */
function candidateOf(resource: KubeLinkResource, networks: RouterNetworks): Candidate | string {
  const status = resource.status ?? {};
  const spec = (resource.spec ?? {}) as Partial<KubeLinkResource['spec']>;
  if (status.state === 'Invalid') return `status.state is Invalid${status.message ? ` (${status.message})` : ''}`;
  if (typeof status.gateway !== 'string' || status.gateway === '') return 'has no status.gateway yet (no broker serves it)';
  const gateway = parseIpv4(status.gateway);
  if (gateway === undefined) return `status.gateway ${JSON.stringify(status.gateway)} is not an IPv4 address`;
  if (networks.nodeCidr !== undefined && !prefixContains(networks.nodeCidr, gateway)) {
    return `status.gateway ${status.gateway} is outside the node network ${formatPrefix(networks.nodeCidr)}`;
  }
  const destinations: Ipv4Prefix[] = [];
  const fields: [string, unknown][] = [];
  if (spec.cidr !== undefined && spec.cidr !== null && spec.cidr !== '') fields.push(['spec.cidr', spec.cidr]);
  if (spec.egress !== undefined && spec.egress !== null) {
    if (!Array.isArray(spec.egress)) return `spec.egress ${JSON.stringify(spec.egress)}: must be a list of CIDRs`;
    spec.egress.forEach((e, i) => fields.push([`spec.egress[${i}]`, e]));
  }
  for (const [field, value] of fields) {
    const prefix = parsePrefix(String(value ?? ''));
    if (!prefix.ok) return `${field} ${JSON.stringify(value ?? '')}: ${prefix.reason}`;
    destinations.push(prefix.value);
  }
  const address = parseInterface(String(spec.clusterAddress ?? ''));
  if (!address.ok) return `spec.clusterAddress ${JSON.stringify(spec.clusterAddress ?? '')}: ${address.reason}`;
  const local: [string, Ipv4Prefix | undefined][] = [
    ['the node network', networks.nodeCidr],
    ['the pod network', networks.podCidr],
    ['the local service network', networks.serviceCidr],
  ];
  for (const [i, destination] of destinations.entries()) {
    for (const [what, net] of local) {
      if (net !== undefined && prefixesOverlap(destination, net)) return `${fields[i]![0]} ${formatPrefix(destination)} overlaps ${what} ${formatPrefix(net)}`;
    }
  }
  return { name: String(resource.metadata.name), destinations, cidrFields: fields.map(([f]) => f), clusterAddress: address.value, gateway };
}

/** The value most entries map to; ties go to the smallest key, so the choice is stable. */
function mostCommon<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  const counts = new Map<number, { item: T; count: number }>();
  for (const item of items) {
    const k = key(item);
    const entry = counts.get(k);
    if (entry) entry.count++;
    else counts.set(k, { item, count: 1 });
  }
  let best: { key: number; item: T; count: number } | undefined;
  for (const [k, entry] of counts) {
    if (!best || entry.count > best.count || (entry.count === best.count && k < best.key)) best = { key: k, ...entry };
  }
  return best?.item;
}

/** Packs a prefix into one comparable number (network and length, no collisions). */
function prefixKey(p: Ipv4Prefix): number {
  return p.network * 64 + p.prefixLength;
}

/**
 * The routes this node wants for `links`, given its own IP. Deterministic: links are taken
 * in name order, and a link conflicting with an earlier one (overlapping cidr, same cluster
 * address) is skipped.
 */
export function wantedRouterRoutes(links: readonly KubeLinkResource[], ownNodeIp: number, networks: RouterNetworks = {}): RouterPlan {
  const skipped: SkippedLink[] = [];
  const parsed: Candidate[] = [];
  for (const resource of [...links].sort(byName)) {
    const result = candidateOf(resource, networks);
    if (typeof result === 'string') skipped.push({ name: String(resource.metadata?.name ?? ''), reason: result });
    else parsed.push(result);
  }

  const meshCidr = networks.meshCidr ?? mostCommon(parsed.map((c) => interfaceNetwork(c.clusterAddress)), prefixKey);
  const accepted: Candidate[] = [];
  for (const c of parsed) {
    const reason = rejectAgainst(c, meshCidr, accepted);
    if (reason !== undefined) skipped.push({ name: c.name, reason });
    else accepted.push(c);
  }
  skipped.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const isGateway = accepted.some((c) => c.gateway === ownNodeIp);
  const remote = accepted.filter((c) => c.gateway !== ownNodeIp);
  const routes: RouteSpec[] = remote.flatMap((c) => c.destinations.map((destination) => ({ destination, via: c.gateway })));
  if (remote.length > 0 && meshCidr !== undefined) {
    const meshGateway = isGateway ? undefined : mostCommon(remote, (c) => c.gateway)!.gateway;
    if (meshGateway !== undefined) routes.push({ destination: meshCidr, via: meshGateway });
    for (const c of remote) {
      if (c.gateway !== meshGateway) routes.push({ destination: { network: c.clusterAddress.address, prefixLength: 32 }, via: c.gateway });
    }
  }
  return { routes, skipped, meshCidr, isGateway };
}

/** Why `c` cannot be routed next to the links accepted so far, or undefined. */
function rejectAgainst(c: Candidate, meshCidr: Ipv4Prefix | undefined, accepted: readonly Candidate[]): string | undefined {
  if (meshCidr !== undefined) {
    if (!prefixContains(meshCidr, c.clusterAddress.address)) {
      return `spec.clusterAddress ${formatIpv4(c.clusterAddress.address)} is outside the mesh network ${formatPrefix(meshCidr)}`;
    }
    // Egress may lie inside the mesh network (mesh service addresses do); a service CIDR may not.
    const cidrIndex = c.cidrFields.indexOf('spec.cidr');
    if (cidrIndex >= 0 && prefixesOverlap(c.destinations[cidrIndex]!, meshCidr)) {
      return `spec.cidr ${formatPrefix(c.destinations[cidrIndex]!)} overlaps the mesh network ${formatPrefix(meshCidr)}`;
    }
  }
  for (const other of accepted) {
    if (c.clusterAddress.address === other.clusterAddress.address) {
      return `spec.clusterAddress ${formatIpv4(c.clusterAddress.address)} is already the cluster address of link ${JSON.stringify(other.name)}`;
    }
    for (const [i, mine] of c.destinations.entries()) {
      for (const [j, theirs] of other.destinations.entries()) {
        if (prefixesOverlap(mine, theirs)) {
          const theirField = other.cidrFields[j] === 'spec.cidr' ? 'cidr' : 'egress';
          return `${c.cidrFields[i]} ${formatPrefix(mine)} overlaps ${theirField} ${formatPrefix(theirs)} of link ${JSON.stringify(other.name)}`;
        }
      }
    }
  }
  return undefined;
}
