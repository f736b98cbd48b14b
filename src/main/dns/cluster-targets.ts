// The table the DNS resolver consults: for each cluster name, whether its names resolve,
// where (its cluster DNS, through the tunnel or locally; its MeshService names: the peer
// broker's DNS at the peer's cluster address, or locally) and whether its link is Up. Fed
// by the broker: the served links after validation, each link's status reports (with what
// the peer announced in its hello) and this cluster's own name.
import { formatIpv4 } from '../../shared/cidr.js';
import type { LinkState, ValidLink } from '../../shared/types.js';
import type { HelloDns } from '../../shared/wire.js';
import { effectiveClusterDns } from './cluster-dns.js';
import type { ClusterTarget, ClusterTargets } from './mesh-resolver.js';

export const CLUSTER_DNS_PORT = 53;

interface LinkRecord {
  link: ValidLink;
  state: LinkState | undefined;
  announced: HelloDns | undefined;
  /** The mesh DNS port the peer announced in its last hello (0: none); undefined: not announced. */
  meshDnsPort: number | undefined;
}

export interface TargetPorts {
  /** Port of every cluster DNS (53; tests use others). */
  clusterDns: number;
  /** Port of a peer broker's DNS for the mesh domain when its hello does not announce one
   *  (older brokers): this broker's own --dns-port, as before the announcement existed. */
  meshDns: number;
}

export class ClusterTargetTable implements ClusterTargets {
  private readonly links = new Map<string, LinkRecord>();
  private readonly ownName: string | undefined;
  private readonly own: ClusterTarget | undefined;

  /** `ownName`/`ownDns`: this cluster (--cluster-name), answered by the local cluster DNS and MeshService zone. */
  constructor(ownName: string | undefined, ownDns: HelloDns, private readonly ports: TargetPorts = { clusterDns: CLUSTER_DNS_PORT, meshDns: 0 }) {
    this.ownName = ownName;
    this.own = ownName === undefined
      ? undefined
      : { up: true, clusterDns: { server: { ip: formatIpv4(ownDns.dnsIp), port: ports.clusterDns, route: 'local' }, domain: ownDns.domain }, meshServices: 'local' };
  }

  /** The served, valid links; links not in the list resolve no more (deleted, Invalid). */
  setLinks(links: readonly ValidLink[]): void {
    const names = new Set(links.map((l) => l.name));
    for (const name of this.links.keys()) if (!names.has(name)) this.links.delete(name);
    for (const link of links) {
      const record = this.links.get(link.name);
      if (record) record.link = link;
      else this.links.set(link.name, { link, state: undefined, announced: undefined, meshDnsPort: undefined });
    }
  }

  /**
   * A link's state changed; `announced` is the cluster DNS its peer named in the hello, if
   * anything; `meshDnsPort` the mesh DNS port of its last hello (every report carries it,
   * so undefined means the peer's broker does not announce one).
   */
  setStatus(name: string, state: LinkState, announced: HelloDns | undefined, meshDnsPort?: number): void {
    const record = this.links.get(name);
    if (!record) return;
    record.state = state;
    if (announced) record.announced = announced;
    record.meshDnsPort = meshDnsPort;
  }

  lookup(cluster: string): ClusterTarget | undefined {
    if (cluster === this.ownName) return this.own;
    const record = this.links.get(cluster);
    if (!record || record.link.dns.omitPropagation) return undefined;
    const dns = effectiveClusterDns(record.link.dns, record.announced, record.link.serviceCidr);
    const meshDnsPort = record.meshDnsPort ?? this.ports.meshDns;
    return {
      up: record.state === 'Up',
      clusterDns: dns && { server: { ip: formatIpv4(dns.dnsIp), port: this.ports.clusterDns, route: 'mesh' }, domain: dns.domain },
      // An egress-only link (no cidr, nothing announced) has no cluster DNS to ask, but its
      // MeshServices have names: the peer's broker answers them at its cluster address, at
      // the port its hello announced (0: it publishes no names, NXDOMAIN), else at ours.
      meshServices: meshDnsPort > 0 ? { ip: formatIpv4(record.link.clusterAddress), port: meshDnsPort, route: 'mesh' } : undefined,
    };
  }
}
