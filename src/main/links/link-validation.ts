// Validation of KubeLink resources against each other and against the local cluster.
// Pure: the same resources and local settings always give the same answer, so the broker
// can re-run it on every change and tests need no setup.
//
// Conflicts between two links (overlapping cidr, same cluster address, same endpoint
// host, same name) invalidate only ONE of them, so that adding a bad KubeLink never takes
// down a working one: links are ranked by metadata.creationTimestamp (older first; a link
// without one ranks after those with one), then by name; a link that conflicts with a
// higher-ranked *valid* link is Invalid and its message names that link. A link that is
// invalid on its own never blocks another one.
import { formatIpv4, formatPrefix, interfaceNetwork, parseInterface, parseIpv4, parsePrefix, prefixContains, prefixesOverlap } from '../../shared/cidr.js';
import type { Ipv4Interface } from '../../shared/cidr.js';
import type { IngressRule, Ipv4Prefix, KubeLinkDnsSpec, KubeLinkResource, KubeLinkSpec, LinkDns, LinkValidation, ValidLink } from '../../shared/types.js';
import { isDnsName, normalizeHost, parseHostPort } from '../../shared/host-port.js';

/** Port of an endpoint written without one (the seed's default). */
export const DEFAULT_ENDPOINT_PORT = 80;

export interface LocalNetworks {
  /**
   * The local cluster address with mesh prefix (--link-address). The router has none: it
   * gives `meshCidr` (derived from the links when it has no --link-address either).
   */
  linkAddress?: Ipv4Interface;
  /** The mesh network when there is no linkAddress; without either, mesh checks are skipped. */
  meshCidr?: Ipv4Prefix;
  serviceCidr?: Ipv4Prefix;
  podCidr?: Ipv4Prefix;
  nodeCidr?: Ipv4Prefix;
}

type Invalid = Extract<LinkValidation, { ok: false }>;

/** One line for status.message and logs: `<field> "<value>": <reason>`. */
export function validationMessage(v: Invalid): string {
  return `${v.field} ${v.reason}`;
}

function invalid(name: string, field: string, value: unknown, reason: string): Invalid {
  return { ok: false, name, field, reason: `${JSON.stringify(value ?? '')}: ${reason}` };
}

/** Most entries of spec.egress and spec.ingress (the CRD says the same). */
export const MAX_EGRESS_ENTRIES = 32;
export const MAX_INGRESS_ENTRIES = 64;

/** Why a cidr that collides with another service network cannot be routed, and what to do instead. */
const MESH_SERVICE_HINT = 'overlapping service networks cannot both be routed; leave spec.cidr out and reach the peer\'s services through MeshService addresses listed in spec.egress';

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** A list of strings, or the reason it is not one. */
function stringList(value: unknown, max: number): string[] | string {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return 'must be a list of CIDRs';
  if (value.length > max) return `has ${value.length} entries, at most ${max} are allowed`;
  for (const item of value) if (typeof item !== 'string') return `entry ${JSON.stringify(item)} must be a string`;
  return value as string[];
}

/** Checks one link on its own and against the local networks. */
function validateOne(resource: KubeLinkResource, local: LocalNetworks): LinkValidation {
  const name = typeof resource.metadata?.name === 'string' ? resource.metadata.name : '';
  if (name === '') return invalid(name, 'metadata.name', name, 'is missing');
  const spec = resource.spec as Partial<KubeLinkResource['spec']> | undefined;
  if (spec === null || typeof spec !== 'object') return invalid(name, 'spec', spec, 'is missing');

  for (const field of ['clusterAddress', 'endpoint'] as const) {
    const value = spec[field];
    if (isMissing(value)) return invalid(name, `spec.${field}`, value, 'is missing');
    if (typeof value !== 'string') return invalid(name, `spec.${field}`, value, 'must be a string');
  }
  if (!isMissing(spec.cidr) && typeof spec.cidr !== 'string') return invalid(name, 'spec.cidr', spec.cidr, 'must be a string');
  const { clusterAddress, endpoint } = spec as KubeLinkResource['spec'];
  const cidr = isMissing(spec.cidr) ? undefined : (spec.cidr as string);

  let serviceCidr: Ipv4Prefix | undefined;
  if (cidr !== undefined) {
    const prefix = parsePrefix(cidr);
    if (!prefix.ok) return invalid(name, 'spec.cidr', cidr, prefix.reason);
    serviceCidr = prefix.value;
  }

  const meshCidr = local.linkAddress ? interfaceNetwork(local.linkAddress) : local.meshCidr;
  const meshText = meshCidr ? formatPrefix(meshCidr) : '';
  const address = parseInterface(clusterAddress);
  if (!address.ok) return invalid(name, 'spec.clusterAddress', clusterAddress, address.reason);
  if (meshCidr && !prefixContains(meshCidr, address.value.address)) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, `is outside the mesh network ${meshText}${local.linkAddress ? ' of the local link address' : ''}`);
  }
  if (meshCidr && address.value.prefixLength !== meshCidr.prefixLength) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, `has prefix length /${address.value.prefixLength} but the mesh network is ${meshText}`);
  }
  if (local.linkAddress && address.value.address === local.linkAddress.address) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, 'is the local cluster address');
  }

  const hostPort = parseHostPort(endpoint, DEFAULT_ENDPOINT_PORT);
  if (!hostPort.ok) return invalid(name, 'spec.endpoint', endpoint, hostPort.reason);

  // Networks of this cluster that a route into the tunnel would take away from local traffic.
  const localNetworks: [string, Ipv4Prefix | undefined][] = [
    ['the local service network', local.serviceCidr],
    ['the local node network', local.nodeCidr],
    ['the local pod network', local.podCidr],
  ];
  if (serviceCidr !== undefined) {
    if (meshCidr && prefixesOverlap(serviceCidr, meshCidr)) return invalid(name, 'spec.cidr', cidr, `overlaps the mesh network ${meshText}`);
    for (const [what, net] of localNetworks) {
      if (net !== undefined && prefixesOverlap(serviceCidr, net)) {
        const hint = net === local.serviceCidr ? `: ${MESH_SERVICE_HINT}` : '';
        return invalid(name, 'spec.cidr', cidr, `overlaps ${what} ${formatPrefix(net)}${hint}`);
      }
    }
  }

  const egressTexts = stringList(spec.egress, MAX_EGRESS_ENTRIES);
  if (typeof egressTexts === 'string') return invalid(name, 'spec.egress', spec.egress, egressTexts);
  const egress: Ipv4Prefix[] = [];
  for (const [i, text] of egressTexts.entries()) {
    const field = `spec.egress[${i}]`;
    const prefix = parsePrefix(text);
    if (!prefix.ok) return invalid(name, field, text, prefix.reason);
    // Egress may lie inside the mesh network (mesh service addresses do), never on our own address.
    if (local.linkAddress && prefixContains(prefix.value, local.linkAddress.address)) {
      return invalid(name, field, text, `holds the local cluster address ${formatIpv4(local.linkAddress.address)}`);
    }
    for (const [what, net] of localNetworks) {
      if (net !== undefined && prefixesOverlap(prefix.value, net)) return invalid(name, field, text, `overlaps ${what} ${formatPrefix(net)}`);
    }
    egress.push(prefix.value);
  }

  const ingressTexts = stringList(spec.ingress, MAX_INGRESS_ENTRIES);
  if (typeof ingressTexts === 'string') return invalid(name, 'spec.ingress', spec.ingress, ingressTexts);
  let ingress: IngressRule | undefined;
  if (spec.ingress !== undefined && spec.ingress !== null) {
    ingress = { allow: [], deny: [] };
    for (const [i, text] of ingressTexts.entries()) {
      const deny = text.trim().startsWith('!');
      const prefix = parsePrefix(deny ? text.trim().slice(1) : text);
      if (!prefix.ok) return invalid(name, `spec.ingress[${i}]`, text, prefix.reason);
      (deny ? ingress.deny : ingress.allow).push(prefix.value);
    }
  }

  const writtenSpec: KubeLinkSpec = { clusterAddress, endpoint };
  if (cidr !== undefined) writtenSpec.cidr = cidr;
  if (spec.egress !== undefined && spec.egress !== null) writtenSpec.egress = [...egressTexts];
  if (spec.ingress !== undefined && spec.ingress !== null) writtenSpec.ingress = [...ingressTexts];

  const dns = validateDns(name, spec.dns, serviceCidr, egress);
  if ('ok' in dns) return dns;
  if (spec.dns !== undefined && spec.dns !== null) writtenSpec.dns = spec.dns;

  const link: ValidLink = {
    name,
    egress,
    clusterAddress: address.value.address,
    meshPrefixLength: address.value.prefixLength,
    endpointHost: hostPort.value.host,
    endpointPort: hostPort.value.port,
    dns,
    spec: writtenSpec,
  };
  if (serviceCidr !== undefined) link.serviceCidr = serviceCidr;
  if (ingress !== undefined) link.ingress = ingress;
  return { ok: true, link };
}

/** A destination a link routes into its tunnel, with the field that asks for it. */
interface RoutedDestination {
  field: string;
  text: string;
  prefix: Ipv4Prefix;
  /** How another link's message names it, e.g. `cidr 100.64.16.0/20`. */
  label: string;
}

/** Everything a link routes into its tunnel: cidr, egress and its cluster address. */
function routedDestinations(link: ValidLink): RoutedDestination[] {
  const out: RoutedDestination[] = [];
  if (link.serviceCidr !== undefined) {
    out.push({ field: 'spec.cidr', text: link.spec.cidr ?? '', prefix: link.serviceCidr, label: `cidr ${formatPrefix(link.serviceCidr)}` });
  }
  link.egress.forEach((prefix, i) => out.push({ field: `spec.egress[${i}]`, text: link.spec.egress?.[i] ?? '', prefix, label: `egress ${formatPrefix(prefix)}` }));
  const address = { network: link.clusterAddress, prefixLength: 32 };
  out.push({ field: 'spec.clusterAddress', text: link.spec.clusterAddress, prefix: address, label: `cluster address ${formatIpv4(link.clusterAddress)}` });
  return out;
}

/**
 * spec.dns (optional, every field optional). The DNS IP must lie in what the link routes
 * (its service CIDR or an egress prefix): queries reach it through the tunnel.
 */
function validateDns(name: string, value: unknown, serviceCidr: Ipv4Prefix | undefined, egress: readonly Ipv4Prefix[]): LinkDns | Invalid {
  if (value === undefined || value === null) return { omitPropagation: false };
  if (typeof value !== 'object' || Array.isArray(value)) return invalid(name, 'spec.dns', value, 'must be a mapping');
  const spec = value as Record<keyof KubeLinkDnsSpec, unknown>;
  const dns: LinkDns = { omitPropagation: false };
  if (spec.dnsIP !== undefined && spec.dnsIP !== null && spec.dnsIP !== '') {
    const ip = typeof spec.dnsIP === 'string' ? parseIpv4(spec.dnsIP) : undefined;
    if (ip === undefined) return invalid(name, 'spec.dns.dnsIP', spec.dnsIP, 'is not an IPv4 address');
    const routed = [...(serviceCidr ? [serviceCidr] : []), ...egress];
    if (!routed.some((prefix) => prefixContains(prefix, ip))) {
      const where = routed.length === 0 ? 'no spec.cidr or spec.egress' : routed.map(formatPrefix).join(', ');
      return invalid(name, 'spec.dns.dnsIP', spec.dnsIP, `is not routed to this link (${where}): the remote cluster DNS is reached through the tunnel`);
    }
    dns.dnsIp = ip;
  }
  if (spec.baseDomain !== undefined && spec.baseDomain !== null && spec.baseDomain !== '') {
    const domain = typeof spec.baseDomain === 'string' ? normalizeHost(spec.baseDomain) : '';
    if (!isDnsName(domain)) return invalid(name, 'spec.dns.baseDomain', spec.baseDomain, 'is not a DNS name (expected e.g. cluster.local)');
    dns.baseDomain = domain;
  }
  if (spec.omitDNSPropagation !== undefined && spec.omitDNSPropagation !== null) {
    if (typeof spec.omitDNSPropagation !== 'boolean') return invalid(name, 'spec.dns.omitDNSPropagation', spec.omitDNSPropagation, 'must be true or false');
    dns.omitPropagation = spec.omitDNSPropagation;
  }
  return dns}

/** A conflict of `link` with an already accepted link, or undefined. */
function conflictWith(link: ValidLink, accepted: ValidLink): Invalid | undefined {
  const other = `of link ${JSON.stringify(accepted.name)}`;
  if (link.name === accepted.name) return invalid(link.name, 'metadata.name', link.name, 'is defined more than once');
  // One destination routed into two tunnels: the route table could serve only one of them.
  const theirs = routedDestinations(accepted);
  for (const mine of routedDestinations(link)) {
    for (const their of theirs) {
      if (mine.field === 'spec.clusterAddress' && their.field === 'spec.clusterAddress') continue; // below, with its own message
      if (!prefixesOverlap(mine.prefix, their.prefix)) continue;
      const hint = mine.field === 'spec.cidr' && their.field === 'spec.cidr' ? `: ${MESH_SERVICE_HINT}` : '';
      return invalid(link.name, mine.field, mine.text, `overlaps ${their.label} ${other}${hint}`);
    }
  }
  if (link.clusterAddress === accepted.clusterAddress) {
    return invalid(link.name, 'spec.clusterAddress', link.spec.clusterAddress, `is already the cluster address ${other}`);
  }
  if (link.endpointHost === accepted.endpointHost) {
    return invalid(link.name, 'spec.endpoint', link.spec.endpoint, `host ${link.endpointHost} is already the endpoint ${other}`);
  }
  return undefined;
}

/** Order of age (older first): ms since the epoch, +Infinity without a creationTimestamp. */
export function creationRank(resource: { metadata?: { [k: string]: unknown } }): number {
  const ts = resource.metadata?.creationTimestamp;
  const text = ts instanceof Date ? ts.toISOString() : typeof ts === 'string' ? ts : undefined;
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Validates every resource; the result has one entry per resource, in input order.
 * See the top of this file for how conflicts between links are resolved.
 */
export function validateLinks(resources: readonly KubeLinkResource[], local: LocalNetworks): LinkValidation[] {
  const results = resources.map((r) => validateOne(r, local));
  const order = resources
    .map((r, index) => ({ index, rank: creationRank(r), name: String(r.metadata?.name ?? '') }))
    .sort((a, b) => a.rank - b.rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));

  const accepted: ValidLink[] = [];
  for (const { index } of order) {
    const result = results[index]!;
    if (!result.ok) continue;
    let conflict: Invalid | undefined;
    for (const other of accepted) {
      conflict = conflictWith(result.link, other);
      if (conflict) break;
    }
    if (conflict) results[index] = conflict;
    else accepted.push(result.link);
  }
  return results;
}

/** What a link routes into the TUN on the gateway: its service CIDR (if any) and its egress. */
export function tunnelDestinations(link: ValidLink): Ipv4Prefix[] {
  return link.serviceCidr ? [link.serviceCidr, ...link.egress] : [...link.egress];
}
