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
import { formatIpv4, formatPrefix, interfaceNetwork, parseInterface, parseIpv4, parsePrefix, prefixContains, prefixesOverlap } from '../shared/cidr.js';
import type { Ipv4Interface } from '../shared/cidr.js';
import type { Ipv4Prefix, KubeLinkDnsSpec, KubeLinkResource, LinkDns, LinkValidation, ValidLink } from '../shared/types.js';
import { isDnsName, normalizeHost, parseHostPort } from './host-port.js';

/** Port of an endpoint written without one (the seed's default). */
export const DEFAULT_ENDPOINT_PORT = 80;

export interface LocalNetworks {
  /** The local cluster address with mesh prefix (--link-address). */
  linkAddress: Ipv4Interface;
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

/** Checks one link on its own and against the local networks. */
function validateOne(resource: KubeLinkResource, local: LocalNetworks): LinkValidation {
  const name = typeof resource.metadata?.name === 'string' ? resource.metadata.name : '';
  if (name === '') return invalid(name, 'metadata.name', name, 'is missing');
  const spec = resource.spec as Partial<KubeLinkResource['spec']> | undefined;
  if (spec === null || typeof spec !== 'object') return invalid(name, 'spec', spec, 'is missing');

  for (const field of ['cidr', 'clusterAddress', 'endpoint'] as const) {
    const value = spec[field];
    if (value === undefined || value === null || value === '') return invalid(name, `spec.${field}`, value, 'is missing');
    if (typeof value !== 'string') return invalid(name, `spec.${field}`, value, 'must be a string');
  }
  const { cidr, clusterAddress, endpoint } = spec as KubeLinkResource['spec'];

  const prefix = parsePrefix(cidr);
  if (!prefix.ok) return invalid(name, 'spec.cidr', cidr, prefix.reason);
  const serviceCidr = prefix.value;

  const meshCidr = interfaceNetwork(local.linkAddress);
  const meshText = formatPrefix(meshCidr);
  const address = parseInterface(clusterAddress);
  if (!address.ok) return invalid(name, 'spec.clusterAddress', clusterAddress, address.reason);
  if (!prefixContains(meshCidr, address.value.address)) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, `is outside the mesh network ${meshText} of the local link address`);
  }
  if (address.value.prefixLength !== meshCidr.prefixLength) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, `has prefix length /${address.value.prefixLength} but the mesh network is ${meshText}`);
  }
  if (address.value.address === local.linkAddress.address) {
    return invalid(name, 'spec.clusterAddress', clusterAddress, 'is the local cluster address');
  }

  const hostPort = parseHostPort(endpoint, DEFAULT_ENDPOINT_PORT);
  if (!hostPort.ok) return invalid(name, 'spec.endpoint', endpoint, hostPort.reason);

  const localNetworks: [string, Ipv4Prefix | undefined][] = [
    ['the mesh network', meshCidr],
    ['the local service network', local.serviceCidr],
    ['the local node network', local.nodeCidr],
    ['the local pod network', local.podCidr],
  ];
  for (const [what, net] of localNetworks) {
    if (net !== undefined && prefixesOverlap(serviceCidr, net)) {
      return invalid(name, 'spec.cidr', cidr, `overlaps ${what} ${formatPrefix(net)}`);
    }
  }

  const dns = validateDns(name, spec.dns, serviceCidr);
  if ('ok' in dns) return dns;

  const link: ValidLink = {
    name,
    serviceCidr,
    clusterAddress: address.value.address,
    meshPrefixLength: address.value.prefixLength,
    endpointHost: hostPort.value.host,
    endpointPort: hostPort.value.port,
    dns,
    spec: { cidr, clusterAddress, endpoint, ...(spec.dns !== undefined ? { dns: spec.dns } : {}) },
  };
  return { ok: true, link };
}

/**
 * spec.dns (optional, every field optional). The DNS IP must lie in the link's service
 * CIDR: queries reach it through the tunnel, and the peer admits only traffic to its
 * service network.
 */
function validateDns(name: string, value: unknown, serviceCidr: Ipv4Prefix): LinkDns | Invalid {
  if (value === undefined || value === null) return { omitPropagation: false };
  if (typeof value !== 'object' || Array.isArray(value)) return invalid(name, 'spec.dns', value, 'must be a mapping');
  const spec = value as Record<keyof KubeLinkDnsSpec, unknown>;
  const dns: LinkDns = { omitPropagation: false };
  if (spec.dnsIP !== undefined && spec.dnsIP !== null && spec.dnsIP !== '') {
    const ip = typeof spec.dnsIP === 'string' ? parseIpv4(spec.dnsIP) : undefined;
    if (ip === undefined) return invalid(name, 'spec.dns.dnsIP', spec.dnsIP, 'is not an IPv4 address');
    if (!prefixContains(serviceCidr, ip)) {
      return invalid(name, 'spec.dns.dnsIP', spec.dnsIP, `is outside spec.cidr ${formatPrefix(serviceCidr)} (the remote cluster DNS is a service of that network)`);
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
  return dns;
}

/** A conflict of `link` with an already accepted link, or undefined. */
function conflictWith(link: ValidLink, accepted: ValidLink): Invalid | undefined {
  const other = `of link ${JSON.stringify(accepted.name)}`;
  if (link.name === accepted.name) return invalid(link.name, 'metadata.name', link.name, 'is defined more than once');
  if (prefixesOverlap(link.serviceCidr, accepted.serviceCidr)) {
    return invalid(link.name, 'spec.cidr', link.spec.cidr, `overlaps cidr ${formatPrefix(accepted.serviceCidr)} ${other}`);
  }
  if (link.clusterAddress === accepted.clusterAddress) {
    return invalid(link.name, 'spec.clusterAddress', link.spec.clusterAddress, `is already the cluster address ${other}`);
  }
  if (link.endpointHost === accepted.endpointHost) {
    return invalid(link.name, 'spec.endpoint', link.spec.endpoint, `host ${link.endpointHost} is already the endpoint ${other}`);
  }
  return undefined;
}

function creationRank(resource: KubeLinkResource): number {
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

/** The cluster address of a valid link as text, for logs. */
export function describeLink(link: ValidLink): string {
  return `${link.name} (cidr ${formatPrefix(link.serviceCidr)}, address ${formatIpv4(link.clusterAddress)}, endpoint ${link.endpointHost}:${link.endpointPort})`;
}
