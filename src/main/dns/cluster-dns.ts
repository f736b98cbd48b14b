// Where each cluster's names are answered: its cluster DNS service IP and cluster domain.
// Pure. For a peer the KubeLink's spec.dns wins, then what the peer announced in its
// hello, then the kube-dns convention (service CIDR base + 10, cluster.local). For this
// cluster, --cluster-dns-ip and --cluster-domain, else the same convention.
import type { Ipv4Prefix, LinkDns } from '../../shared/types.js';
import type { HelloDns } from '../../shared/wire.js';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
/** kube-dns and CoreDNS installers put the cluster DNS Service at the tenth address. */
export const CLUSTER_DNS_OFFSET = 10;

/** The conventional cluster DNS of a service network: what a peer's DNS is taken to be when nothing says otherwise. */
export function conventionalClusterDns(serviceCidr: Ipv4Prefix): HelloDns {
  return { dnsIp: (serviceCidr.network + CLUSTER_DNS_OFFSET) >>> 0, domain: DEFAULT_CLUSTER_DOMAIN };
}

/**
 * This cluster's own DNS (--cluster-dns-ip, --cluster-domain; each defaults to the
 * convention): what the broker announces in its hello and where it asks for this
 * cluster's own mesh names.
 */
export function ownClusterDns(serviceCidr: Ipv4Prefix, configured: { clusterDnsIp?: number; clusterDomain?: string }): HelloDns {
  const conventional = conventionalClusterDns(serviceCidr);
  return { dnsIp: configured.clusterDnsIp ?? conventional.dnsIp, domain: configured.clusterDomain ?? conventional.domain };
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
