// Prometheus metrics of the mesh DNS server, registered in the broker's registry.
import client from 'prom-client';
import type { Resolution } from './mesh-resolver.js';

export interface DnsGauges {
  cacheEntries: () => number;
  exchangesInFlight: () => number;
  overloaded: () => number;
  unexpectedUpstreamAnswers: () => number;
}

export class DnsMetrics {
  private readonly queries: client.Counter<'result' | 'cluster' | 'transport'>;
  private readonly cacheHits: client.Counter;
  private readonly forwardSeconds: client.Histogram;

  constructor(registry: client.Registry, gauges: DnsGauges) {
    const registers = [registry];
    this.queries = new client.Counter({
      name: 'kubelink_dns_queries_total',
      help: 'DNS queries answered by result (rcode, or dropped) and target cluster ("msvc": this cluster\'s MeshService names asked as <x>.msvc.<mesh-domain>, mostly by peers\' brokers; "" outside the mesh or unreadable)',
      labelNames: ['result', 'cluster', 'transport'],
      registers,
    });
    this.cacheHits = new client.Counter({ name: 'kubelink_dns_cache_hits_total', help: 'DNS queries answered from the cache', registers });
    this.forwardSeconds = new client.Histogram({
      name: 'kubelink_dns_forward_duration_seconds',
      help: 'Time for a cluster DNS to answer a forwarded query (through the tunnel, or locally for this cluster)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    });
    new client.Gauge({ name: 'kubelink_dns_cache_entries', help: 'Answers in the DNS cache', registers, collect() { this.set(gauges.cacheEntries()); } });
    new client.Gauge({ name: 'kubelink_dns_forwards_in_flight', help: 'Forwarded DNS queries waiting for their cluster DNS', registers, collect() { this.set(gauges.exchangesInFlight()); } });
    new client.Counter({
      name: 'kubelink_dns_overload_total',
      help: 'DNS queries answered SERVFAIL at once because the forwards in flight were at their bound',
      registers,
      collect() { this.reset(); this.inc(gauges.overloaded()); },
    });
    new client.Counter({
      name: 'kubelink_dns_unexpected_answers_total',
      help: 'UDP answers from a cluster DNS dropped: unknown id or wrong source',
      registers,
      collect() { this.reset(); this.inc(gauges.unexpectedUpstreamAnswers()); },
    });
  }

  observe(resolution: Resolution, transport: string): void {
    this.queries.inc({ result: resolution.result, cluster: resolution.cluster, transport });
    if (resolution.cached) this.cacheHits.inc();
    if (resolution.forwardMs !== undefined) this.forwardSeconds.observe(resolution.forwardMs / 1000);
  }
}
