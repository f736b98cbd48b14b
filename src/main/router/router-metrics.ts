// Prometheus metrics of the router (prom-client), in a registry of its own so a broker in
// the same process keeps its metric names to itself.
import client from 'prom-client';
import type { LinkSourceStats } from '../../shared/types.js';
import { registerLinkSourceMetrics } from '../links/link-source-metrics.js';

export class RouterMetrics {
  readonly registry = new client.Registry();
  private readonly wanted: client.Gauge;
  private readonly failing: client.Gauge;
  private readonly skipped: client.Gauge;
  private readonly gateway: client.Gauge;
  private readonly changes: client.Counter<'change'>;
  private readonly reconcileErrors: client.Counter;

  constructor(linkSourceStats: () => LinkSourceStats | undefined = () => undefined) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'kubelink_process_' });
    const registers = [this.registry];
    this.wanted = new client.Gauge({ name: 'kubelink_router_routes_wanted', help: 'Routes the router wants on this node (service CIDRs, mesh CIDR, cluster addresses)', registers });
    this.failing = new client.Gauge({ name: 'kubelink_router_routes_failed', help: 'Wanted routes the last reconcile could not install (e.g. a foreign route holds the destination)', registers });
    this.skipped = new client.Gauge({ name: 'kubelink_router_links_skipped', help: 'KubeLinks that get no route on this node (no gateway yet, Invalid, conflicting)', registers });
    this.gateway = new client.Gauge({ name: 'kubelink_router_node_is_gateway', help: '1 when this node is the gateway (broker node) of a link', registers });
    this.changes = new client.Counter({ name: 'kubelink_router_route_changes_total', help: 'Routes added, replaced or removed by the router', labelNames: ['change'], registers });
    this.reconcileErrors = new client.Counter({ name: 'kubelink_router_reconcile_errors_total', help: 'Reconciles that failed as a whole (e.g. routes could not be listed)', registers });
    registerLinkSourceMetrics(this.registry, linkSourceStats);
  }

  recordReconcile(r: { wanted: number; failed: number; skipped: number; isGateway: boolean; added: number; replaced: number; removed: number }): void {
    this.wanted.set(r.wanted);
    this.failing.set(r.failed);
    this.skipped.set(r.skipped);
    this.gateway.set(r.isGateway ? 1 : 0);
    this.changes.inc({ change: 'add' }, r.added);
    this.changes.inc({ change: 'replace' }, r.replaced);
    this.changes.inc({ change: 'remove' }, r.removed);
  }

  recordReconcileError(): void {
    this.reconcileErrors.inc();
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
