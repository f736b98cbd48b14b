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
// Which links are usable is decided by the same link plan the broker uses (planLinks:
// validation, and conflicts settled in favour of the older link), so the router never
// routes a link the broker found Invalid, even before the broker has written its status.
// The router runs without --link-address (it has no cluster address of its own), so the
// mesh CIDR is taken from --link-address when given, else from the links' clusterAddress
// prefixes (the network most links agree on). What is the router's own to check is the
// gateway: present, an IPv4 address, inside the node network.
import { formatPrefix, parseIpv4, prefixContains } from '../../shared/cidr.js';
import type { Ipv4Prefix, KubeLinkResource } from '../../shared/types.js';
import type { RouteSpec } from '../net/gateway-net.js';
import { meshNetworkOfLinks, planLinks } from '../links/link-plan.js';
import { tunnelDestinations } from '../links/link-validation.js';

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
  clusterAddress: number;
  gateway: number;
}

/** The gateway of a link, or why the router cannot use it. */
function gatewayOf(resource: KubeLinkResource, networks: RouterNetworks): number | string {
  const status = resource.status ?? {};
  if (status.state === 'Invalid') return `status.state is Invalid${status.message ? ` (${status.message})` : ''}`;
  if (typeof status.gateway !== 'string' || status.gateway === '') return 'has no status.gateway yet (no broker serves it)';
  const gateway = parseIpv4(status.gateway);
  if (gateway === undefined) return `status.gateway ${JSON.stringify(status.gateway)} is not an IPv4 address`;
  if (networks.nodeCidr !== undefined && !prefixContains(networks.nodeCidr, gateway)) {
    return `status.gateway ${status.gateway} is outside the node network ${formatPrefix(networks.nodeCidr)}`;
  }
  return gateway;
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

const NO_CAPACITY_LIMIT = { links: Number.POSITIVE_INFINITY, routeEntries: Number.POSITIVE_INFINITY };

/**
 * The routes this node wants for `links`, given its own IP. Deterministic: the link plan
 * decides which links are valid (the older of two conflicting links wins, as in the
 * broker), then links are taken in name order.
 */
export function wantedRouterRoutes(links: readonly KubeLinkResource[], ownNodeIp: number, networks: RouterNetworks = {}): RouterPlan {
  const meshCidr = networks.meshCidr ?? meshNetworkOfLinks(links);
  const plan = planLinks(
    links,
    { meshCidr, nodeCidr: networks.nodeCidr, podCidr: networks.podCidr, serviceCidr: networks.serviceCidr, servedLinks: 'all', capacity: NO_CAPACITY_LIMIT },
    new Set(),
  );
  const skipped: SkippedLink[] = plan.invalid.map((i) => ({ name: i.name, reason: i.message }));
  const resources = new Map(links.map((r) => [String(r.metadata?.name ?? ''), r]));
  const accepted: Candidate[] = [];
  for (const link of [...plan.served].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const gateway = gatewayOf(resources.get(link.name)!, networks);
    if (typeof gateway === 'string') skipped.push({ name: link.name, reason: gateway });
    else accepted.push({ name: link.name, destinations: tunnelDestinations(link), clusterAddress: link.clusterAddress, gateway });
  }
  skipped.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const isGateway = accepted.some((c) => c.gateway === ownNodeIp);
  const remote = accepted.filter((c) => c.gateway !== ownNodeIp);
  const routes: RouteSpec[] = remote.flatMap((c) => c.destinations.map((destination) => ({ destination, via: c.gateway })));
  if (remote.length > 0 && meshCidr !== undefined) {
    const meshGateway = isGateway ? undefined : mostCommon(remote, (c) => c.gateway)!.gateway;
    if (meshGateway !== undefined) routes.push({ destination: meshCidr, via: meshGateway });
    for (const c of remote) {
      if (c.gateway !== meshGateway) routes.push({ destination: { network: c.clusterAddress, prefixLength: 32 }, via: c.gateway });
    }
  }
  return { routes, skipped, meshCidr, isGateway };
}
