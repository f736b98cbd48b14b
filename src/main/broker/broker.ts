// The broker controller as a standby shell: the HTTP server (/healthz, /readyz, /metrics)
// and, with links from Kubernetes, the leader election. The DataPlane (data-plane.ts) is
// built when this replica wins the Lease, or at once with --links, and the process exits
// when it loses the Lease, so the Deployment restarts it as a standby
// (docs/architecture.md, "The broker lifecycle").
import os from 'node:os';
import type { Config } from '../flags.js';
import type { Logger } from '../../shared/log.js';
import { systemClock, withTimeout, type Clock } from '../../shared/clock.js';
import { HttpServer } from '../http/http-server.js';
import type { LeaderElector } from '../k8s/leader-election.js';
import { DataPlane, type DataPlaneParts, type DataPlaneSettings } from './data-plane.js';
import { productionParts } from './data-plane-parts.js';
import { ownClusterDns } from '../dns/cluster-dns.js';

export interface BrokerTimings {
  /** Dial on demand: the least time between two takes of the demand words (DataPlaneSettings). */
  demandCheckMs: number;
  /** How often SNAT and routes are re-checked (someone may have deleted them). */
  reconcileMs: number;
  /** After a fatal error, exit at the latest this long after starting the clean stop. */
  failExitMs: number;
  /** Accepted peer connections allowed in their TLS handshake at once; more are refused. */
  maxPendingHandshakes: number;
  /** The same from one source address (a peer needs one or two; NAT may put a few behind one). */
  maxPendingPerAddress: number;
}

export const DEFAULT_BROKER_TIMINGS: BrokerTimings = { demandCheckMs: 250, reconcileMs: 10_000, failExitMs: 15_000, maxPendingHandshakes: 256, maxPendingPerAddress: 16 };

/** The broker's flags checked once: what the data plane needs is present. */
export function dataPlaneSettings(config: Config, timings: BrokerTimings): DataPlaneSettings {
  const { linkAddress, serviceCidr } = config;
  if (!linkAddress || !serviceCidr) throw new Error('the broker needs --link-address and --service-cidr');
  return {
    linkAddress,
    serviceCidr,
    clusterDns: ownClusterDns(serviceCidr, config),
    podCidr: config.podCidr,
    nodeCidr: config.nodeCidr,
    nodeIp: config.nodeIp,
    servedLinks: config.servedLinks,
    brokerPort: config.brokerPort,
    mtu: config.mtu,
    dnsPort: config.dnsPort,
    logLevel: config.logLevel,
    demandCheckMs: timings.demandCheckMs,
    reconcileMs: timings.reconcileMs,
    maxPendingHandshakes: timings.maxPendingHandshakes,
    maxPendingPerAddress: timings.maxPendingPerAddress,
    maxDialsInFlight: config.maxDialsInFlight,
    tlsCiphers: config.tlsCiphers,
    tunnelQueueBytes: config.tunnelQueueBytes,
    queueDelayTargetMs: config.queueDelayTargetMs,
    queueDelayIntervalMs: config.queueDelayIntervalMs,
    statusStatsIntervalMs: config.statusStatsIntervalSeconds * 1000,
  };
}

export interface BrokerOptions {
  timings?: Partial<BrokerTimings>;
  /** Builds the data plane's parts; default: the real ones (data-plane-parts.ts). */
  parts?: (settings: DataPlaneSettings) => Promise<DataPlaneParts>;
  clock?: Clock;
}

export class Broker {
  private readonly timings: BrokerTimings;
  private readonly settings: DataPlaneSettings;
  private readonly clock: Clock;
  private http: HttpServer | undefined;
  private elector: LeaderElector | undefined;
  /** Present while this replica serves the links: the phase is this one field. */
  private dataPlane: DataPlane | undefined;
  private stopping = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly options: BrokerOptions = {},
  ) {
    this.timings = { ...DEFAULT_BROKER_TIMINGS, ...options.timings };
    this.settings = dataPlaneSettings(config, this.timings);
    this.clock = options.clock ?? systemClock;
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
          healthz: () => (this.dataPlane && !this.dataPlane.healthy ? { ok: false, detail: 'a TUN thread died' } : { ok: true, detail: 'ok' }),
          readyz: () => (this.dataPlane ? { ok: true, detail: 'leading; data plane up' } : { ok: false, detail: this.elector ? 'standby: not the leader' : 'starting' }),
          metrics: async () => (this.dataPlane ? this.dataPlane.metrics.render() : { contentType: 'text/plain', body: '' }),
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
    const { LeaderElector, kubernetesLeaseStore } = await import('../k8s/leader-election.js');
    const kubeConfig = loadKubeConfig(config.kubeconfig);
    const { MESHSERVICE_CRD } = await import('../mesh-services/mesh-service-crd.js');
    for (const [kind, crd] of [['KubeLink', undefined], ['MeshService', MESHSERVICE_CRD]] as const) {
      try {
        // Bounded: a black-holed API server must not keep the broker from starting its election.
        const result = await withTimeout(this.clock, ensureCrd(kubeConfig, this.log, {}, crd), 60_000, `ensuring the ${kind} CRD got no answer within 60 s`);
        this.log.info(`${kind} CRD`, { result });
      } catch (err) {
        // Without create rights the CRD must have been installed by an administrator; the
        // sources fail clearly below if it is really missing.
        this.log.warn(`could not create or update the ${kind} CRD; using the installed one`, { err });
      }
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
    const parts = await (this.options.parts ?? defaultParts(this.config, this.log))(this.settings);
    // The data plane runs only on the leader: the identity it won the Lease with, or the
    // host name when links come from files (no election).
    const dataPlane = new DataPlane(this.settings, parts, this.log, this.elector?.identity ?? os.hostname());
    await dataPlane.start();
    if (this.stopping) {
      await dataPlane.stop();
      return;
    }
    this.dataPlane = dataPlane;
    this.log.info('data plane up', { workers: this.config.workers });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const dataPlane = this.dataPlane;
    this.dataPlane = undefined;
    await dataPlane?.stop();
    // Released last: a standby takes over only once this replica's TUN and rules are gone.
    await this.elector?.stop();
    await this.http?.close();
  }
}

function defaultParts(config: Config, log: Logger): (settings: DataPlaneSettings) => Promise<DataPlaneParts> {
  return (settings) => productionParts(config, settings, log);
}
