// The broker controller: wires the link source, the certificates, the gateway networking
// (TUN, SNAT, routes), the data path threads, the shard workers and the peer listener.
// Each of those is its own module; this one only connects them and owns their lifecycle.
import type { Config } from '../flags.js';
import type { Logger } from '../../shared/log.js';
import { Datapath, shardCounterBlock } from './datapath.js';
import { ShardSupervisor } from './shard-supervisor.js';
import { TunnelManager, type LinkStatusReport } from './tunnel-manager.js';
import { PeerListener } from './peer-listener.js';
import { HttpServer } from '../http/http-server.js';
import { tunnelDestinations, validateLinks, validationMessage } from '../links/link-validation.js';
import { GatewayNetwork } from '../net/gateway-network.js';
import { BrokerMetrics } from './broker-metrics.js';
import { loadNative } from '../../shared/native.js';
import { DEFAULT_SHARD_TUNABLES, type TlsMaterial } from '../../shared/shard-protocol.js';
import { formatIpv4 } from '../../shared/cidr.js';
import type { KubeLinkResource, LinkSource, LinkTrafficStatus, ValidLink } from '../../shared/types.js';
import { createLinkSource } from '../links/link-source-factory.js';
import { createTlsSource } from '../certs/tls-source-factory.js';
import type { TlsSource } from '../certs/tls-source.js';
import { createCoalescedTask } from '../../shared/coalesced-task.js';
import type { LeaderElector } from '../k8s/leader-election.js';
import { conventionalClusterDns } from '../dns/cluster-dns.js';
import { certificateExpiry } from '../certs/pki.js';
import os from 'node:os';

export interface BrokerTimings {
  /** How often packets waiting for a down link are checked (dial on demand). */
  demandCheckMs: number;
  /** How often SNAT and routes are re-checked (someone may have deleted them). */
  reconcileMs: number;
  /** After a fatal error, exit at the latest this long after starting the clean stop. */
  failExitMs: number;
  /** Accepted peer connections allowed in their TLS handshake at once; more are refused. */
  maxPendingHandshakes: number;
}

export const DEFAULT_BROKER_TIMINGS: BrokerTimings = { demandCheckMs: 250, reconcileMs: 10_000, failExitMs: 15_000, maxPendingHandshakes: 256 };

export class Broker {
  private datapath: Datapath | undefined;
  private shards: ShardSupervisor | undefined;
  private tunnels: TunnelManager | undefined;
  private listener: PeerListener | undefined;
  private http: HttpServer | undefined;
  private gateway: GatewayNetwork | undefined;
  private linkSource: LinkSource | undefined;
  private tlsSource: TlsSource | undefined;
  private metrics: BrokerMetrics | undefined;
  private timers: NodeJS.Timeout[] = [];
  private nodeIp: string | undefined;
  private servedLinks: ValidLink[] = [];
  private elector: LeaderElector | undefined;
  private dataPlaneUp = false;
  private stopping = false;
  private invalidLinks = 0;
  /** Per link, the RTT and bytes last put into its status (refreshStatusStats). */
  private statusStats = new Map<string, LinkTrafficStatus>();
  /** notAfter of the certificate in force, for kubelink_certificate_expiry_timestamp_seconds. */
  private certificateNotAfter: Date | undefined;
  private readonly timings: BrokerTimings;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    timings: Partial<BrokerTimings> = {},
  ) {
    this.timings = { ...DEFAULT_BROKER_TIMINGS, ...timings };
  }

  /**
   * Starts the health endpoint, then the data plane: at once when links come from files,
   * or when this replica wins the Lease when they come from Kubernetes (only the leader
   * owns the TUN and the tunnels; a standby only answers /healthz).
   */
  async start(): Promise<void> {
    const config = this.config;
    if (config.serverPortHttp > 0) {
      this.http = new HttpServer(
        {
          healthz: () => (this.datapath && !this.datapath.healthy ? { ok: false, detail: 'a TUN thread died' } : { ok: true, detail: 'ok' }),
          readyz: () => (this.dataPlaneUp ? { ok: true, detail: 'leading; data plane up' } : { ok: false, detail: this.elector ? 'standby: not the leader' : 'starting' }),
          metrics: async () => (this.metrics ? this.metrics.render() : { contentType: 'text/plain', body: '' }),
        },
        this.log,
      );
      await this.http.listen(config.serverPortHttp);
    }
    if (config.links) {
      await this.startDataPlane();
      return;
    }
    const { loadKubeConfig } = await import('../k8s/kube-config.js');
    const { ensureCrd } = await import('../k8s/ensure-crd.js');
    const { systemClock, withTimeout } = await import('../../shared/clock.js');
    const { LeaderElector, kubernetesLeaseStore } = await import('../k8s/leader-election.js');
    const kubeConfig = loadKubeConfig(config.kubeconfig);
    try {
      // Bounded: a black-holed API server must not keep the broker from starting its election.
      const result = await withTimeout(systemClock, ensureCrd(kubeConfig, this.log), 60_000, 'ensuring the KubeLink CRD got no answer within 60 s');
      this.log.info('KubeLink CRD', { result });
    } catch (err) {
      // Without create rights the CRD must have been installed by an administrator; the
      // link source fails clearly below if it is really missing.
      this.log.warn('could not create or update the KubeLink CRD; using the installed one', { err });
    }
    this.elector = new LeaderElector(kubernetesLeaseStore(kubeConfig, config.namespace, config.leaseName), {
      // With hostNetwork the hostname is the node's: the pod name (set by the Deployment
      // through the downward API) tells replicas apart.
      identity: process.env.POD_NAME ? `${process.env.POD_NAME}_${process.pid}` : undefined,
      log: this.log,
      onStartedLeading: () => {
        // A renewal that lands while we tear down after a lost lease must not start over.
        if (this.stopping) return;
        this.startDataPlane().catch((err: unknown) => this.fail('data plane failed to start', err));
      },
      onStoppedLeading: () => {
        if (this.stopping) return;
        // Another replica may own the tunnels now; a clean restart comes back as standby.
        this.fail('lost the leader lease', undefined);
      },
    });
    this.elector.start();
    this.log.info('waiting for the leader lease', { lease: `${config.namespace}/${config.leaseName}`, identity: this.elector.identity });
  }

  /** Stops everything and ends the process: the Deployment restarts it as a standby. */
  private fail(msg: string, err: unknown): void {
    this.log.error(msg + '; exiting', { err });
    // A stop that hangs must not leave a replica that neither leads nor exits.
    setTimeout(() => process.exit(1), this.timings.failExitMs).unref();
    void this.stop().finally(() => process.exit(1));
  }

  private async startDataPlane(): Promise<void> {
    const config = this.config;
    const linkAddress = config.linkAddress;
    const serviceCidr = config.serviceCidr;
    if (!linkAddress || !serviceCidr) throw new Error('the broker needs --link-address and --service-cidr');

    this.tlsSource = await createTlsSource(config, this.log);
    this.noteCertificate(await this.tlsSource.start((material) => this.onTls(material)));

    const datapath = new Datapath({ ifname: config.ifceName, shards: config.workers, mtu: config.mtu, tunOffload: config.tunOffload }, this.log.child({ component: 'datapath' }));
    this.datapath = datapath;
    const ifname = datapath.openTun();
    this.gateway = new GatewayNetwork(ifname, linkAddress, config.mtu, this.log.child({ component: 'gateway' }));
    await this.gateway.setUp();
    const nodeIp = config.nodeIp ?? (config.nodeCidr ? await this.gateway.nodeAddressIn(config.nodeCidr) : undefined);
    this.nodeIp = nodeIp !== undefined ? formatIpv4(nodeIp) : undefined;
    if (config.nodeCidr && nodeIp === undefined) this.log.warn('no local address inside --node-cidr; status.gateway stays empty');

    const shards = new ShardSupervisor(
      config.workers,
      (shard) => ({
        shardIndex: shard,
        toTunnelRing: datapath.toTunnelRings[shard]!,
        toTunRing: datapath.toTunRings[shard]!,
        toTunSignal: datapath.toTunSignal,
        vnetHdr: datapath.vnetHdr,
        counters: datapath.counters,
        counterBlock: shardCounterBlock(shard),
        local: { clusterAddress: linkAddress.address, serviceCidr, dns: conventionalClusterDns(serviceCidr) },
        tls: this.tlsSource!.current(),
        links: this.tunnels?.shardLinks() ?? [],
        tunables: DEFAULT_SHARD_TUNABLES,
        logLevel: config.logLevel,
      }),
      {
        message: (shard, msg) => this.tunnels?.onShardMessage(shard, msg),
        shardLost: (shard) => this.tunnels?.onShardLost(shard),
      },
      this.log.child({ component: 'shards' }),
    );
    this.shards = shards;
    this.tunnels = new TunnelManager(
      { localClusterAddress: linkAddress.address, maxLinks: datapath.options.maxLinks, staleAfterMs: DEFAULT_SHARD_TUNABLES.deadAfterMs, maxDialsInFlight: config.maxDialsInFlight },
      shards,
      datapath,
      (report) => this.onLinkStatus(report),
      this.log.child({ component: 'tunnels' }),
    );
    this.metrics = new BrokerMetrics(
      { counterBlocks: datapath.counterBlocks, blockNames: datapath.blockNames(), ringDrops: () => datapath.ringDrops(), ringFill: () => datapath.ringFill() },
      () => this.tunnels?.snapshot() ?? [],
      () => this.tunnels?.handshakeFailures ?? 0,
      () => this.invalidLinks,
      () => this.tunnels?.connectionCount() ?? 0,
      () => this.listener?.refused ?? 0,
      () => this.linkSource?.stats?.(),
      // The data plane (and so this registry) runs only on the leader: the identity it
      // won the Lease with, or the host name when links come from files (no election).
      () => this.elector?.identity ?? os.hostname(),
      () => this.certificateNotAfter,
    );
    await datapath.startThreads();
    shards.start();

    this.listener = new PeerListener(loadNative(), (fd, remote) => this.tunnels?.adopt(fd, remote), this.log.child({ component: 'listener' }), {
      pendingHandshakes: () => this.tunnels?.pendingAccepts() ?? 0,
      maxPendingHandshakes: this.timings.maxPendingHandshakes,
    });
    const port = await this.listener.listen(config.brokerPort);
    this.log.info('listening for peers', { port, ifname, clusterAddress: formatIpv4(linkAddress.address), gateway: this.nodeIp, workers: config.workers });

    this.linkSource = await createLinkSource(config, this.log);
    await this.linkSource.start((resources) => this.onResources(resources));

    this.timers.push(setInterval(() => this.tunnels?.onDemand(datapath.takeDemand()), this.timings.demandCheckMs));
    this.timers.push(setInterval(() => void this.networkReconcile.run(), this.timings.reconcileMs));
    if (config.statusStatsIntervalSeconds > 0) this.timers.push(setInterval(() => this.refreshStatusStats(), config.statusStatsIntervalSeconds * 1000));
    this.dataPlaneUp = true;
  }

  private onResources(resources: KubeLinkResource[]): void {
    const config = this.config;
    const results = validateLinks(resources, {
      linkAddress: config.linkAddress!,
      serviceCidr: config.serviceCidr,
      podCidr: config.podCidr,
      nodeCidr: config.nodeCidr,
    });
    const served: ValidLink[] = [];
    this.invalidLinks = results.filter((r) => !r.ok).length;
    for (const result of results) {
      if (!result.ok) {
        this.log.warn('invalid KubeLink', { link: result.name, field: result.field, reason: result.reason });
        void this.report(result.name, 'Invalid', validationMessage(result));
        continue;
      }
      if (config.servedLinks !== 'all' && !config.servedLinks.includes(result.link.name)) continue;
      served.push(result.link);
    }
    this.servedLinks = this.withinCapacity(served);
    this.tunnels!.setLinks(this.servedLinks);
    void this.networkReconcile.run();
  }

  /**
   * At most as many links as the data path has link ids. Links served already keep their
   * place, so one link too many never takes down a working one; the rest are Invalid.
   */
  private withinCapacity(links: ValidLink[]): ValidLink[] {
    const capacity = this.datapath!.options.maxLinks;
    const routeCapacity = this.datapath!.routes.capacityEntries;
    const entries = (l: ValidLink) => tunnelDestinations(l).length + 1;
    if (links.length <= capacity && links.reduce((n, l) => n + entries(l), 0) <= routeCapacity) return links;
    const current = new Set(this.servedLinks.map((l) => l.name));
    const ordered = [...links].sort((a, b) => Number(current.has(b.name)) - Number(current.has(a.name)) || a.name.localeCompare(b.name));
    const kept: ValidLink[] = [];
    let used = 0;
    for (const link of ordered) {
      if (kept.length < capacity && used + entries(link) <= routeCapacity) {
        kept.push(link);
        used += entries(link);
        continue;
      }
      const why = kept.length >= capacity ? `this broker serves at most ${capacity} links` : `the data path's route table holds at most ${routeCapacity} destinations (cidr, egress and cluster address of all links)`;
      void this.report(link.name, 'Invalid', why);
      this.invalidLinks++;
    }
    return kept;
  }

  /** SNAT and routes for the served links; one run at a time, a request during a run makes one more. */
  private readonly networkReconcile = createCoalescedTask(
    async () => this.gateway?.reconcile(this.servedLinks.flatMap(tunnelDestinations)),
    0,
    (err) => this.log.error('gateway networking reconcile failed', { err }),
  );

  private onTls(material: TlsMaterial): void {
    this.noteCertificate(material);
    this.shards?.broadcast({ type: 'tls', tls: material });
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
    const statsTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const next = new Map<string, LinkTrafficStatus>();
    for (const link of this.tunnels?.snapshot() ?? []) {
      next.set(link.name, {
        rttMs: link.rttMs === null ? undefined : Math.round(link.rttMs * 100) / 100,
        rxBytes: link.traffic.rxBytes,
        txBytes: link.traffic.txBytes,
        statsTime,
      });
    }
    this.statusStats = next;
    for (const link of this.tunnels?.snapshot() ?? []) void this.report(link.name, link.state, link.message);
  }

  private async report(name: string, state: LinkStatusReport['state'], message: string): Promise<void> {
    // An Invalid link has no tunnel, so no stats either.
    const stats = state === 'Invalid' ? {} : this.statusStats.get(name);
    try {
      await this.linkSource?.reportStatus(name, { state, message, gateway: this.nodeIp, ...stats });
    } catch (err) {
      this.log.warn('status report failed', { link: name, err });
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.dataPlaneUp = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.tunnels?.stop();
    await this.linkSource?.stop();
    await this.tlsSource?.stop();
    await this.listener?.close();
    await this.shards?.stop();
    await this.networkReconcile.stop();
    await this.datapath?.stop();
    await this.gateway?.tearDown();
    // Released last: a standby takes over only once this replica's TUN and rules are gone.
    await this.elector?.stop();
    await this.http?.close();
  }
}
