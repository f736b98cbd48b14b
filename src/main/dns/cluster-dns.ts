// Where each cluster's names are answered: its cluster DNS service IP and cluster domain.
// Pure. For a peer the KubeLink's spec.dns wins, then what the peer announced in its
// hello, then the kube-dns convention (service CIDR base + 10, cluster.local).
import type { Ipv4Prefix, LinkDns } from '../../shared/types.js';
import type { HelloDns } from '../../shared/wire.js';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
/** kube-dns and CoreDNS installers put the cluster DNS Service at the tenth address. */
export const CLUSTER_DNS_OFFSET = 10;

/** The conventional cluster DNS of a service network: this broker's own announcement. */
export function conventionalClusterDns(serviceCidr: Ipv4Prefix): HelloDns {
  return { dnsIp: (serviceCidr.network + CLUSTER_DNS_OFFSET) >>> 0, domain: DEFAULT_CLUSTER_DOMAIN };
}

/**
 * The cluster DNS to ask for a linked cluster's names; undefined when nothing names an IP
 * (a link without spec.cidr whose peer announced none).
 */
export function effectiveClusterDns(spec: LinkDns, announced: HelloDns | undefined, serviceCidr: Ipv4Prefix | undefined): HelloDns | undefined {
  const conventional = serviceCidr ? conventionalClusterDns(serviceCidr) : undefined;
  const dnsIp = spec.dnsIp ?? announced?.dnsIp ?? conventional?.dnsIp;
  if (dnsIp === undefined) return undefined;
  return { dnsIp, domain: spec.baseDomain ?? announced?.domain ?? DEFAULT_CLUSTER_DOMAIN };
}
