// Prometheus metrics of the broker (prom-client). Data-plane counters are not pushed: the
// threads bump plain slots in SharedArrayBuffer blocks, and this module reads and sums
// them when /metrics is scraped. Link metrics come from the tunnel manager's snapshot.
import client from 'prom-client';
import { COUNTER_DESCRIPTORS, Counter, type CounterBlocks } from '../../shared/counters.js';
import type { LinkSnapshot } from './tunnel-manager.js';
import type { LinkSourceStats, LinkState } from '../../shared/types.js';
import { registerLinkSourceMetrics } from '../links/link-source-metrics.js';

export interface MetricsSource {
  counterBlocks: CounterBlocks;
  /** The counter block of each shard, in shard order. */
  shardBlocks: readonly number[];
  /** Packets dropped because a ring was full: the rings count these in their own headers. */
  ringDrops: () => number;
  /** Fill level (0..1) of each shard's two rings. */
  ringFill: () => { toTunnel: number }[];
}

/** The dial pacer's state (see dial-pacer.ts). */
export interface DialStats {
  inFlight: number;
  queued: number;
  peakInFlight: number;
}

const LINK_STATES: readonly LinkState[] = ['Up', 'Down', 'Error', 'Invalid'];

export class BrokerMetrics {
  readonly registry = new client.Registry();

  constructor(
    source: MetricsSource,
    links: () => LinkSnapshot[],
    handshakeFailures: () => number,
    invalidLinks: () => number,
    connections: () => number,
    refusedConnections: () => Readonly<Record<string, number>>,
    linkSourceStats: () => LinkSourceStats | undefined,
    leaderIdentity: () => string,
    certificateNotAfter: () => Date | undefined,
    dials: () => DialStats | undefined = () => undefined,
  ) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'kubelink_process_' });

    // One prom-client metric per distinct name in the counter table; reason-labelled
    // families (drops, malformed frames) share one metric.
    const byMetric = new Map<string, typeof COUNTER_DESCRIPTORS[number][]>();
    for (const d of COUNTER_DESCRIPTORS) byMetric.set(d.metric, [...(byMetric.get(d.metric) ?? []), d]);
    for (const [name, descriptors] of byMetric) {
      const labelled = descriptors.some((d) => d.reason !== undefined);
      new client.Counter({
        name,
        help: descriptors[0]!.help,
        labelNames: labelled ? ['reason'] : [],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const d of descriptors) {
            const value = d.reason === 'ring-full' ? source.ringDrops() : source.counterBlocks.total(d.index);
            if (labelled) this.inc({ reason: d.reason! }, value);
            else this.inc(value);
          }
        },
      });
    }

    new client.Counter({
      name: 'kubelink_shard_packets_total',
      help: 'IP packets carried by each shard worker and direction (tx: to peers, rx: from peers)',
      labelNames: ['shard', 'direction'],
      registers: [this.registry],
      collect() {
        this.reset();
        source.shardBlocks.forEach((block, shard) => {
          this.inc({ shard: String(shard), direction: 'tx' }, source.counterBlocks.value(block, Counter.tunnelTxPackets));
          this.inc({ shard: String(shard), direction: 'rx' }, source.counterBlocks.value(block, Counter.tunnelRxPackets));
        });
      },
    });

    new client.Gauge({
      name: 'kubelink_links',
      help: 'KubeLinks by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const snapshot = links();
        for (const state of LINK_STATES) {
          const count = state === 'Invalid' ? invalidLinks() : snapshot.filter((l) => l.state === state).length;
          this.set({ state }, count);
        }
      },
    });

    new client.Gauge({
      name: 'kubelink_link_up',
      help: '1 while the link has a tunnel carrying keepalives, else 0',
      labelNames: ['link'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of links()) this.set({ link: l.name }, l.state === 'Up' ? 1 : 0);
      },
    });

    for (const [unit, field] of [['packets', 'Packets'], ['bytes', 'Bytes']] as const) {
      new client.Counter({
        name: `kubelink_link_${unit}_total`,
        help: `IP ${unit} carried by each link's tunnel and direction (tx: to the peer, rx: from the peer; updated with every keepalive)`,
        labelNames: ['link', 'direction'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const l of links()) {
            this.inc({ link: l.name, direction: 'tx' }, l.traffic[`tx${field}`]);
            this.inc({ link: l.name, direction: 'rx' }, l.traffic[`rx${field}`]);
          }
        },
      });
    }

    new client.Gauge({
      name: 'kubelink_ring_used_ratio',
      help: 'Fill level of each shard ring (to-tunnel: TUN reader -> shard; shards write received packets to the TUN themselves); near 1 means drops',
      labelNames: ['shard', 'ring'],
      registers: [this.registry],
      collect() {
        this.reset();
        source.ringFill().forEach((fill, shard) => {
          this.set({ shard: String(shard), ring: 'to-tunnel' }, fill.toTunnel);
        });
      },
    });

    new client.Gauge({
      name: 'kubelink_tunnel_rtt_seconds',
      help: 'Round-trip time of the last keepalive on the link tunnel',
      labelNames: ['link'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of links()) if (l.rttMs !== null) this.set({ link: l.name }, l.rttMs / 1000);
      },
    });

    new client.Counter({
      name: 'kubelink_tunnel_reconnects_total',
      help: 'Times a link tunnel went down after having been up',
      labelNames: ['link'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of links()) this.inc({ link: l.name }, l.reconnects);
      },
    });

    new client.Counter({
      name: 'kubelink_link_contention_total',
      help: 'New connections of a peer that met its healthy tunnel: replaced it (at most once per hold-off period) or were refused',
      labelNames: ['link', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of links()) {
          this.inc({ link: l.name, outcome: 'replaced' }, l.contention.replaced);
          this.inc({ link: l.name, outcome: 'refused' }, l.contention.refused);
        }
      },
    });

    new client.Gauge({
      name: 'kubelink_tunnel_connections',
      help: 'Open peer connections (in handshake, established or carrying a link)',
      registers: [this.registry],
      collect() {
        this.set(connections());
      },
    });

    new client.Counter({
      name: 'kubelink_peer_connections_refused_total',
      help: 'Peer connections closed on accept because too many TLS handshakes were pending (reason: pending-total, pending-per-address)',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(refusedConnections())) this.inc({ reason }, count);
      },
    });
    registerLinkSourceMetrics(this.registry, linkSourceStats);
    this.totalFrom('kubelink_handshake_failures_total', 'Peer connections that failed TLS, identification or hello', handshakeFailures);

    // Only the leader runs the data plane and serves these metrics (a standby's /metrics is
    // empty), so the series exists exactly while a replica leads with its data plane up;
    // the "no leader" alert (k8s/monitoring) fires on its absence.
    new client.Gauge({
      name: 'kubelink_broker_leader',
      help: '1 on the broker replica that leads (holds the Lease, data plane up); identity: the Lease holder',
      labelNames: ['identity'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.set({ identity: leaderIdentity() }, 1);
      },
    });

    new client.Gauge({
      name: 'kubelink_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the broker certificate in force (Unix seconds); reloads update it',
      registers: [this.registry],
      collect() {
        this.reset();
        const notAfter = certificateNotAfter();
        if (notAfter) this.set(notAfter.getTime() / 1000);
      },
    });
    this.gaugeFrom('kubelink_dials_in_flight', 'Outbound handshakes of this broker in progress (capped by --max-dials-in-flight)', () => dials()?.inFlight ?? 0);
    this.gaugeFrom('kubelink_dials_queued', 'Outbound dials waiting for the pacer (jitter, backoff or the in-flight cap)', () => dials()?.queued ?? 0);
    this.gaugeFrom('kubelink_dials_in_flight_peak', 'The most outbound handshakes ever in progress at once', () => dials()?.peakInFlight ?? 0);
  }

  /** A gauge without labels whose value is kept elsewhere and read at scrape time. */
  private gaugeFrom(name: string, help: string, read: () => number): void {
    new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter without labels whose value is kept elsewhere and read at scrape time. */
  private totalFrom(name: string, help: string, read: () => number): void {
    new client.Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
