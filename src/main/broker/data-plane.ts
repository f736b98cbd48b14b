// The broker's data plane: everything that exists only on the replica that serves the
// links (the Lease holder, or every broker with --links). Built completely, in dependency
// order, when this replica starts leading; stopped as a whole (docs/architecture.md,
// "The broker lifecycle"):
//
//   certificates -> data path (TUN device, rings, route table) -> gateway networking
//   (address, SNAT, routes) -> TUN threads -> shards <-> TunnelManager -> peer listener
//   -> link source -> MeshServices (with links from Kubernetes) -> periodic work (dial on
//   demand, network and MeshService NAT repair)
//
// Links flow source -> planLinks -> TunnelManager (tunnels, route table) and gateway
// routes; status flows back TunnelManager -> link source. Each part is reached through
// an explicit interface (DataPlaneParts), so a test builds a DataPlane from fakes.
//
// Extension points: what a link plan decides is in links/link-plan.ts; when a link counts
// as Up is TunnelManager's report(); how and when links are dialed is TunnelManager's
// scheduleDial/onDemand; anything more that starts with the data plane is one more step
// in start() with its stop pushed on the stop stack (the mesh DNS is one: parts.dns).
import type { Logger } from '../../shared/log.js';
import { formatIpv4, formatPrefix } from '../../shared/cidr.js';
import type { Ipv4Interface } from '../../shared/cidr.js';
import type { TunGateway } from '../net/gateway-net.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';
import { createCoalescedTask, type CoalescedTask } from '../../shared/coalesced-task.js';
import { DEFAULT_SHARD_TUNABLES, validateShardTunables, type TlsMaterial } from '../../shared/shard-protocol.js';
import type { PublishedAddress } from '../../shared/inbound-filter.js';
import type { Ipv4Prefix, KubeLinkResource, LinkSource, LinkState, LinkTrafficStatus, ValidLink } from '../../shared/types.js';
import type { TlsSource } from '../certs/tls-source.js';
import { certificateExpiry } from '../certs/pki.js';
import { planLinks, type LinkCapacity } from '../links/link-plan.js';
import { tunnelDestinations } from '../links/link-validation.js';
import { BrokerMetrics, type MetricsSource } from './broker-metrics.js';
import type { ShardRings } from './datapath.js';
import type { PeerAdmission, RefusalReason } from './peer-listener.js';
import type { ShardInitTemplate, ShardOwner } from './shard-supervisor.js';
import type { HelloDns } from '../../shared/wire.js';
import type { MeshServiceEntry } from '../dns/mesh-service-zone.js';
import { TunnelManager, type LinkStatusReport, type ShardChannel, type TunnelDatapath } from './tunnel-manager.js';

/** The data path as the data plane drives it (Datapath; faked in tests). */
export interface DataPlaneDatapath extends TunnelDatapath {
  readonly capacity: LinkCapacity;
  /** False once a TUN thread died. */
  readonly healthy: boolean;
  /** Opens the TUN device; returns its name. */
  openTun(): string;
  startThreads(): Promise<void>;
  shardRings(shard: number): ShardRings;
  metricsSource(): MetricsSource;
  /** Resolves when a packet wanted a link without a tunnel since the last takeDemand, or on stop. */
  demandRung(): Promise<void>;
  /** Link ids packets waited for since the last call. */
  takeDemand(): number[];
  stop(): Promise<void>;
}

/** The gateway node's networking for the TUN (GatewayNet; faked in tests). */
export interface DataPlaneNetwork {
  setUpTun(tun: TunGateway): Promise<void>;
  /**
   * One route into the TUN per destination (one batch), and with `iptables` the rules
   * (SNAT, inbound guard); repairs what was deleted. Resolves with the destinations whose
   * route is NOT in place.
   */
  reconcileTun(tun: TunGateway, destinations: readonly Ipv4Prefix[], options: { iptables: boolean }): Promise<{ failed: readonly Ipv4Prefix[] }>;
  /** The node's IP inside --node-cidr, for status.gateway. */
  localAddressIn(nodeCidr: Ipv4Prefix): Promise<number | undefined>;
  tearDownTun(tun: TunGateway): Promise<void>;
}

/** The shard workers (ShardSupervisor; faked in tests). */
export interface DataPlaneShards extends ShardChannel {
  start(owner: ShardOwner): void;
  stop(): Promise<void>;
}

/** The peer listener (PeerListener; faked in tests). */
export interface DataPlaneListener {
  listen(port: number): Promise<number>;
  close(): Promise<void>;
  /** Connections refused because too many handshakes were pending, by reason. */
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

/** The MeshService controller (MeshServiceController; absent with links from files). */
export interface DataPlaneMeshServices {
  /** The mesh addresses and ports published now, for the shards' inbound check. */
  published(): PublishedAddress[];
  /** The valid KubeLinks: no MeshService may take a cluster address or an address in spec.egress of one. */
  setLinks(links: readonly ValidLink[]): void;
  start(): Promise<void>;
  /** Re-applies the NAT and statuses (repairs deleted rules). */
  reconcile(): Promise<void>;
  stop(): Promise<void>;
}

/** The DNS for the mesh domain (DnsService; absent with --dns-port 0). */
export interface DataPlaneDns {
  /** Binds the listener and the upstream sockets (the mesh one needs the TUN address). */
  start(): Promise<number>;
  setLinks(links: readonly ValidLink[]): void;
  /** `meshDnsPort`: what the peer's last hello announced (0: no mesh DNS; undefined: an older broker). */
  setLinkStatus(name: string, state: LinkState, announced: HelloDns | undefined, meshDnsPort?: number): void;
  /** This cluster's Ok MeshServices, for their names. */
  setMeshServices(entries: readonly MeshServiceEntry[]): void;
  stop(): Promise<void>;
}

/** What a data plane is built from. Production: productionParts (data-plane-parts.ts). */
export interface DataPlaneParts {
  /** Builds the mesh DNS with the data plane's metrics registry; absent: no DNS. */
  dns?: (registry: BrokerMetrics['registry']) => DataPlaneDns;
  clock: Clock;
  tls: TlsSource;
  links: LinkSource;
  datapath: DataPlaneDatapath;
  network: DataPlaneNetwork;
  shards(initFor: (shard: number) => ShardInitTemplate): DataPlaneShards;
  listener(handOver: (fd: number, remote: string, address: string) => void, admission: PeerAdmission): DataPlaneListener;
  /** With links from Kubernetes: MeshServices published through this TUN device. */
  meshServices?(ifname: string, publish: (published: PublishedAddress[]) => void, publishNames: (entries: MeshServiceEntry[]) => void): DataPlaneMeshServices;
}

/** The broker's flags as the data plane needs them, checked once (dataPlaneSettings in broker.ts). */
export interface DataPlaneSettings {
  linkAddress: Ipv4Interface;
  serviceCidr: Ipv4Prefix;
  /** This cluster's DNS (--cluster-dns-ip, --cluster-domain): announced in the hello, asked for own names. */
  clusterDns: HelloDns;
  podCidr?: Ipv4Prefix;
  nodeCidr?: Ipv4Prefix;
  /** --node-ip; without it the node's address inside nodeCidr, for status.gateway. */
  nodeIp?: number;
  servedLinks: 'all' | readonly string[];
  brokerPort: number;
  /** --mtu: the TUN's MTU. */
  mtu: number;
  /** --dns-port of the mesh DNS (0 or absent: none); the gateway guard admits it from peers. */
  dnsPort?: number;
  logLevel: string;
  /**
   * Dial on demand: after handing the marked links to the tunnel manager, the data plane
   * listens for the TUN reader's doorbell again only this much later, so packets for a
   * link that cannot be dialed yet wake the main thread at most this often.
   */
  demandCheckMs: number;
  /** How often SNAT and routes are re-checked (someone may have deleted them). */
  reconcileMs: number;
  /** Accepted peer connections allowed in their TLS handshake at once; more are refused. */
  maxPendingHandshakes: number;
  /** The same from one source address. */
  maxPendingPerAddress: number;
  /** --max-dials-in-flight: this broker's own handshakes at once (DialPacer). */
  maxDialsInFlight?: number;
  /** --tls-ciphers: TLS 1.3 suites of the tunnels, preferred first (default Node's). */
  tlsCiphers?: string;
  /** --tunnel-queue: bytes queued per tunnel (Node + kernel unsent) above which packets are dropped. */
  tunnelQueueBytes?: number;
  /** --queue-delay-target / --queue-delay-interval: CoDel on each tunnel's outgoing queue (target 0 = off). */
  queueDelayTargetMs?: number;
  queueDelayIntervalMs?: number;
  /** --status-stats-interval: how often RTT and bytes go into the KubeLink status; 0 never. */
  statusStatsIntervalMs?: number;
}

export class DataPlane {
  readonly metrics: BrokerMetrics;
  private readonly tunnels: TunnelManager;
  private readonly shards: DataPlaneShards;
  private readonly listener: DataPlaneListener;
  private readonly dns: DataPlaneDns | undefined;
  /** SNAT and routes for the served links; one run at a time, a request during a run makes one more. */
  private readonly networkReconcile: CoalescedTask;
  /** What start() has started, stopped in reverse order by stop(). */
  private readonly stops: (() => Promise<void> | void)[] = [];
  private readonly timers: TimerHandle[] = [];
  /** The pause after handling demand (watchDemand), cut short on stop. */
  private demandPause: { timer: TimerHandle; resume: () => void } | undefined;
  private served: ValidLink[] = [];
  private meshServices: DataPlaneMeshServices | undefined;
  /** Cluster addresses of all valid KubeLinks (served here or elsewhere). */
  /** Served and not served (--served-links): the MeshServices must avoid all their addresses. */
  private validLinks: ValidLink[] = [];
  private invalidLinks = 0;
  private gateway: string | undefined;
  /** The TUN as set up by start(); links (and so route reconciles) come only after it. */
  private tun: TunGateway | undefined;
  private stopped = false;
  /** The periodic repair also checks the iptables rules (SNAT, inbound guard); link changes only route. */
  private iptablesDue = false;

  /** notAfter of the certificate in force, for kubelink_certificate_expiry_timestamp_seconds. */
  private certificateNotAfter: Date | undefined;
  /** Per link, the RTT and bytes last put into its status (refreshStatusStats). */
  private statusStats = new Map<string, LinkTrafficStatus>();

  constructor(
    private readonly settings: DataPlaneSettings,
    private readonly parts: DataPlaneParts,
    private readonly log: Logger,
    /** Who leads: the identity that won the Lease, or the host name with --links (kubelink_broker_leader). */
    identity: string,
  ) {
    const { datapath, tls } = parts;
    this.networkReconcile = createCoalescedTask(
      async () => {
        const tun = this.tun;
        if (this.stopped || !tun) return;
        // The links as they are now: a change during the run makes one more run (the
        // latest wins), and links added meanwhile count as routed only after it.
        const links = this.served;
        const iptables = this.iptablesDue;
        this.iptablesDue = false;
        const { failed } = await parts.network.reconcileTun(tun, links.flatMap(tunnelDestinations), { iptables });
        const unrouted = new Set(failed.map(formatPrefix));
        this.tunnels.setRouted(new Set(links.filter((l) => tunnelDestinations(l).every((d) => !unrouted.has(formatPrefix(d)))).map((l) => l.name)));
        // MeshService NAT depends on MeshServices, Services, EndpointSlices and link
        // cluster addresses, which reconcile it themselves; here it is only repaired, on
        // the periodic run (one iptables-save, not one per burst of link changes).
        if (iptables) await this.meshServices?.reconcile();
      },
      0,
      (err) => log.error('gateway networking reconcile failed', { err }),
      parts.clock,
    );
    this.shards = parts.shards((shard) => ({
      shardIndex: shard,
      ...datapath.shardRings(shard),
      local: { clusterAddress: settings.linkAddress.address, serviceCidr: settings.serviceCidr, dns: settings.clusterDns, meshDnsPort: announcedMeshDnsPort(parts, settings) },
      tls: tls.current(),
      published: this.meshServices?.published() ?? [],
      tlsCiphers: settings.tlsCiphers,
      tunables: validateShardTunables({
        ...DEFAULT_SHARD_TUNABLES,
        maxQueuedBytes: settings.tunnelQueueBytes ?? DEFAULT_SHARD_TUNABLES.maxQueuedBytes,
        queueDelayTargetMs: settings.queueDelayTargetMs ?? DEFAULT_SHARD_TUNABLES.queueDelayTargetMs,
        queueDelayIntervalMs: settings.queueDelayIntervalMs ?? DEFAULT_SHARD_TUNABLES.queueDelayIntervalMs,
      }),
      logLevel: settings.logLevel,
    }));
    this.tunnels = new TunnelManager(
      {
        localClusterAddress: settings.linkAddress.address,
        maxLinks: datapath.capacity.links,
        staleAfterMs: DEFAULT_SHARD_TUNABLES.deadAfterMs,
        maxDialsInFlight: settings.maxDialsInFlight,
        clock: parts.clock,
      },
      this.shards,
      datapath,
      (report) => this.onLinkStatus(report),
      log.child({ component: 'tunnels' }),
    );
    this.listener = parts.listener((fd, remote, address) => this.tunnels.adopt(fd, remote, address), {
      pendingHandshakes: () => this.tunnels.pendingAccepts(),
      maxPendingHandshakes: settings.maxPendingHandshakes,
      pendingHandshakesFrom: (address) => this.tunnels.pendingAcceptsFrom(address),
      maxPendingPerAddress: settings.maxPendingPerAddress,
    });
    this.metrics = new BrokerMetrics(
      datapath.metricsSource(),
      () => this.tunnels.snapshot(),
      () => this.tunnels.handshakeFailures,
      () => this.invalidLinks,
      () => this.tunnels.connectionCount(),
      () => this.listener.refused,
      () => parts.links.stats?.(),
      () => identity,
      () => this.certificateNotAfter,
      () => this.tunnels.pacer,
    );
    this.dns = parts.dns?.(this.metrics.registry);
  }

  /** False once a TUN thread died. */
  get healthy(): boolean {
    return this.parts.datapath.healthy;
  }

  /** Starts every part in dependency order; on failure stops what started and rejects. */
  async start(): Promise<void> {
    const { tls, datapath, network, links, clock } = this.parts;
    const settings = this.settings;
    try {
      this.noteCertificate(await tls.start((material) => this.onTls(material)));
      this.stops.push(() => tls.stop());

      const ifname = datapath.openTun();
      this.stops.push(() => datapath.stop());
      const tun: TunGateway = { ifname, linkAddress: settings.linkAddress, serviceCidr: settings.serviceCidr, mtu: settings.mtu, dnsPort: settings.dnsPort };
      await network.setUpTun(tun);
      this.stops.push(() => network.tearDownTun(tun));
      this.tun = tun;
      const nodeIp = settings.nodeIp ?? (settings.nodeCidr ? await network.localAddressIn(settings.nodeCidr) : undefined);
      this.gateway = nodeIp !== undefined ? formatIpv4(nodeIp) : undefined;
      if (settings.nodeCidr && nodeIp === undefined) this.log.warn('no local address inside --node-cidr; status.gateway stays empty');

      await datapath.startThreads();
      this.shards.start(this.tunnels);
      this.stops.push(() => this.shards.stop());

      if (this.dns) {
        // After the gateway set-up: forwarded queries leave from the cluster address on the TUN.
        await this.dns.start();
        this.stops.push(() => this.dns!.stop());
      }

      const port = await this.listener.listen(settings.brokerPort);
      this.stops.push(() => this.listener.close());
      this.log.info('listening for peers', { port, ifname, clusterAddress: formatIpv4(settings.linkAddress.address), gateway: this.gateway });

      this.stops.push(() => this.networkReconcile.stop());
      await links.start((resources) => this.onResources(resources));
      this.stops.push(() => links.stop());

      const meshServices = this.parts.meshServices?.(
        ifname,
        (published) => this.shards.broadcast({ type: 'published', published }),
        (entries) => this.dns?.setMeshServices(entries),
      );
      if (meshServices) {
        meshServices.setLinks(this.validLinks);
        await meshServices.start();
        this.meshServices = meshServices;
        this.stops.push(() => meshServices.stop());
      }

      void this.watchDemand();
      this.timers.push(clock.setInterval(() => {
        this.iptablesDue = true;
        void this.networkReconcile.run();
      }, settings.reconcileMs));
      if (settings.statusStatsIntervalMs) this.timers.push(clock.setInterval(() => this.refreshStatusStats(), settings.statusStatsIntervalMs));
      this.stops.push(() => {
        for (const t of this.timers) clock.clearInterval(t);
        if (this.demandPause) {
          clock.clearTimeout(this.demandPause.timer);
          this.demandPause.resume();
        }
        this.tunnels.stop();
      });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops what start() started, last first. Safe to call more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.stops.length > 0) {
      const stop = this.stops.pop()!;
      try {
        await stop();
      } catch (err) {
        this.log.warn('stopping a data plane part failed', { err });
      }
    }
  }

  /**
   * Dial on demand without polling (docs/architecture.md, "Route table and demand"): waits
   * for the TUN reader's doorbell (rung on a link's 0 -> 1 demand edge, never per packet),
   * hands the marked links to the tunnel manager (which keeps its per-link redial limit),
   * then pauses demandCheckMs. Ends when the data plane stops (the datapath's stop rings).
   */
  private async watchDemand(): Promise<void> {
    const { datapath, clock } = this.parts;
    while (!this.stopped) {
      await datapath.demandRung();
      if (this.stopped) return;
      try {
        this.tunnels.onDemand(datapath.takeDemand());
      } catch (err) {
        this.log.error('dial on demand failed', { err });
      }
      await new Promise<void>((resolve) => {
        this.demandPause = { timer: clock.setTimeout(resolve, this.settings.demandCheckMs), resume: resolve };
      });
      this.demandPause = undefined;
    }
  }

  /** The links served now (for tests and logs). */
  servedLinks(): readonly ValidLink[] {
    return this.served;
  }

  private onResources(resources: KubeLinkResource[]): void {
    const settings = this.settings;
    const plan = planLinks(resources, { ...settings, capacity: this.parts.datapath.capacity }, new Set(this.served.map((l) => l.name)));
    this.invalidLinks = plan.invalid.length;
    for (const link of plan.invalid) {
      this.log.warn('invalid KubeLink', { link: link.name, field: link.field, reason: link.reason });
      void this.report(link.name, 'Invalid', link.message);
    }
    this.served = plan.served;
    this.validLinks = [...plan.served, ...plan.elsewhere];
    this.meshServices?.setLinks(this.validLinks);
    this.dns?.setLinks(this.served);
    this.tunnels.setLinks(this.served);
    void this.networkReconcile.run();
  }

  private onTls(material: TlsMaterial): void {
    this.noteCertificate(material);
    this.shards.broadcast({ type: 'tls', tls: material });
  }

  private noteCertificate(material: TlsMaterial): void {
    try {
      this.certificateNotAfter = certificateExpiry(material.cert);
    } catch (err) {
      // The source validated the material already; a metric must not stop a reload.
      this.log.warn('cannot read the certificate expiry for the metric', { err });
    }
  }

  private onLinkStatus(report: LinkStatusReport): void {
    this.dns?.setLinkStatus(report.name, report.state, report.peerDns, report.peerMeshDnsPort);
    void this.report(report.name, report.state, report.message);
  }

  /**
   * Every --status-stats-interval: each served link's RTT and bytes go into its KubeLink
   * status with its current state, so `kubelink status` and `kubectl get klink -o wide`
   * show them with nothing but API access (the broker's /metrics is on the node's network).
   * One timer for all links; a link's stats change its status at most once per interval
   * (252 links at 60 s: about 4 status patches a second), and state changes in between
   * carry the last stats unchanged, so they cost no extra write.
   */
  private refreshStatusStats(): void {
    const statsTime = new Date(this.parts.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const links = this.tunnels.snapshot();
    this.statusStats = new Map(
      links.map((link): [string, LinkTrafficStatus] => [
        link.name,
        { rttMs: link.rttMs === null ? undefined : Math.round(link.rttMs * 100) / 100, rxBytes: link.traffic.rxBytes, txBytes: link.traffic.txBytes, statsTime },
      ]),
    );
    for (const link of links) void this.report(link.name, link.state, link.message);
  }

  private async report(name: string, state: LinkState, message: string): Promise<void> {
    // An Invalid link has no tunnel, so no stats either.
    const stats = state === 'Invalid' ? {} : this.statusStats.get(name);
    try {
      await this.parts.links.reportStatus(name, { state, message, gateway: this.gateway, ...stats });
    } catch (err) {
      this.log.warn('status report failed', { link: name, err });
    }
  }
}

/**
 * The mesh DNS port this broker announces in its hello: --dns-port, 0 when it runs no mesh
 * DNS (peers then answer its MeshService names NXDOMAIN without asking), not announced
 * when a DNS runs on a port the settings do not name (tests).
 */
function announcedMeshDnsPort(parts: DataPlaneParts, settings: DataPlaneSettings): number | undefined {
  return parts.dns === undefined ? 0 : settings.dnsPort;
}
