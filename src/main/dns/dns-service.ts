// The broker's DNS for the mesh domain, assembled: the cluster table, the upstream client,
// the cache, the resolver, the listener and the metrics. The broker feeds it links and
// link states and starts it with the data plane (the mesh socket needs the TUN address).
import type client from 'prom-client';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import type { LinkState, ValidLink } from '../../shared/types.js';
import type { HelloDns } from '../../shared/wire.js';
import { AnswerCache, DEFAULT_ANSWER_CACHE_OPTIONS } from './answer-cache.js';
import { ClusterTargetTable, CLUSTER_DNS_PORT } from './cluster-targets.js';
import { DnsMetrics } from './dns-metrics.js';
import { DEFAULT_DNS_SERVER_OPTIONS, DnsServer } from './dns-server.js';
import { DEFAULT_RESOLVER_OPTIONS, MeshResolver, type QueryOrigin, type Resolution } from './mesh-resolver.js';
import { parseIpv4, prefixContains } from '../../shared/cidr.js';
import type { Ipv4Prefix } from '../../shared/types.js';
import type { MeshServiceEntry } from './mesh-service-zone.js';
import { DEFAULT_UPSTREAM_TIMEOUT_MS, UpstreamClient } from './upstream-client.js';

export interface DnsServiceConfig {
  port: number;
  meshDomain: string;
  clusterName: string | undefined;
  /** This broker's cluster address (source of forwarded queries). */
  clusterAddress: string;
  /** The mesh CIDR: queries from inside it come from peers' brokers (their cluster addresses). */
  meshCidr?: Ipv4Prefix;
  /** This cluster's DNS (answers for clusterName). */
  ownDns: HelloDns;
  /** Port of every cluster DNS (53; tests use others). */
  clusterDnsPort?: number;
  /** Port of a peer broker's DNS, asked for its MeshService names, when its hello announces none (older brokers); default `port`. */
  peerDnsPort?: number;
  /** Address to listen on; default all. */
  host?: string;
}

export class DnsService {
  readonly targets: ClusterTargetTable;
  private readonly upstream: UpstreamClient;
  private readonly cache: AnswerCache;
  private readonly resolver: MeshResolver;
  private readonly server: DnsServer;
  private readonly metrics: DnsMetrics | undefined;
  /** Problems (FORMERR, drops, upstream failures) are logged at most once per this period. */
  private lastProblemLogMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: DnsServiceConfig,
    registry: client.Registry | undefined,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.targets = new ClusterTargetTable(config.clusterName, config.ownDns, { clusterDns: config.clusterDnsPort ?? CLUSTER_DNS_PORT, meshDns: config.peerDnsPort ?? config.port });
    this.upstream = new UpstreamClient({ meshSourceAddress: config.clusterAddress, timeoutMs: DEFAULT_UPSTREAM_TIMEOUT_MS, maxTcpAnswerBytes: 0xffff }, clock);
    this.cache = new AnswerCache(DEFAULT_ANSWER_CACHE_OPTIONS, () => clock.now());
    this.resolver = new MeshResolver({ meshDomain: config.meshDomain, ...DEFAULT_RESOLVER_OPTIONS }, this.targets, this.upstream, this.cache, () => clock.now());
    this.server = new DnsServer({ port: config.port, host: config.host, ...DEFAULT_DNS_SERVER_OPTIONS }, (q, t, client) => this.resolver.resolve(q, t, this.originOf(client)), (r, t) => this.onResolved(r, t), log);
    this.metrics = registry
      ? new DnsMetrics(registry, {
          cacheEntries: () => this.cache.size,
          exchangesInFlight: () => this.resolver.exchangesInFlight,
          overloaded: () => this.resolver.overloaded,
          unexpectedUpstreamAnswers: () => this.upstream.unexpectedAnswers,
        })
      : undefined;
  }

  /** Binds the upstream sockets and the listener; resolves with the listening port. */
  async start(): Promise<number> {
    await this.upstream.start();
    let port: number;
    try {
      port = await this.server.listen();
    } catch (err) {
      await this.upstream.stop();
      throw err;
    }
    this.log.info('DNS for the mesh domain listening', { port, meshDomain: this.config.meshDomain, clusterName: this.config.clusterName });
    return port;
  }

  setLinks(links: readonly ValidLink[]): void {
    this.targets.setLinks(links);
  }

  setLinkStatus(name: string, state: LinkState, announced: HelloDns | undefined, meshDnsPort?: number): void {
    this.targets.setStatus(name, state, announced, meshDnsPort);
  }

  /** This cluster's published (Ok) MeshServices, answered under msvc.<cluster>.<mesh> and msvc.<mesh>. */
  setMeshServices(entries: readonly MeshServiceEntry[]): void {
    this.resolver.meshServices.set(entries);
  }

  /**
   * A query from inside the mesh CIDR comes from a peer's broker: local clients (CoreDNS,
   * pods, nodes) have pod or node addresses, and peers' packets carry their cluster
   * address (SNAT). (docs/architecture.md, "Names of MeshServices".)
   */
  private originOf(client: string): QueryOrigin {
    const address = parseIpv4(client.startsWith('::ffff:') ? client.slice(7) : client);
    const mesh = this.config.meshCidr;
    return mesh && address !== undefined && prefixContains(mesh, address) ? 'peer' : 'local';
  }

  private onResolved(resolution: Resolution, transport: string): void {
    this.metrics?.observe(resolution, transport);
    if (resolution.problem !== undefined) {
      const now = this.clock.now();
      // Never per query: a flood of bad queries makes one line per 10 s.
      if (now - this.lastProblemLogMs >= 10_000) {
        this.lastProblemLogMs = now;
        this.log.info('DNS query not answered normally (further ones within 10 s not logged; see kubelink_dns_queries_total)', {
          result: resolution.result,
          cluster: resolution.cluster,
          problem: resolution.problem,
        });
      }
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.upstream.stop();
  }
}
