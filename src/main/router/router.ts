// The router controller (a DaemonSet with hostNetwork on every node): keeps this node's
// routes to the remote service CIDRs and the mesh CIDR pointing at the gateway node that
// runs the broker (status.gateway of each KubeLink). What is wanted is decided by
// router-routes.ts; GatewayNet applies it with routes marked `proto 212`, so obsolete
// routes of ours are removed and foreign or pod-CIDR routes are never touched.
//
// Reconciles run one at a time (a request during a run queues exactly one more): on every
// link change and every `reconcileIntervalMs`, which brings back a route someone deleted.
// Nothing is reconciled before the link source has delivered its first set, so a restart
// never removes working routes just because the links are not listed yet.
import { formatIpv4, formatPrefix } from '../../shared/cidr.js';
import type { Ipv4Prefix, KubeLinkResource, LinkSource } from '../../shared/types.js';
import { createCoalescedTask, type CoalescedTask } from '../../shared/coalesced-task.js';
import type { Config } from '../flags.js';
import { GatewayNet, ROUTER_ROUTE_PROTOCOL, describeRoute } from '../net/gateway-net.js';
import { HttpServer } from '../http/http-server.js';
import type { Logger } from '../../shared/log.js';
import { systemClock, type Clock, type TimerHandle } from '../../shared/clock.js';
import { RouterMetrics } from './router-metrics.js';
import { StateLog } from '../../shared/state-log.js';
import { wantedRouterRoutes, type RouterNetworks } from './router-routes.js';
import { createLinkSource } from '../links/link-source-factory.js';

/** The router's flags checked once: how it finds its node IP is known (docs/architecture.md, "The router"). */
export interface RouterSettings {
  /** --node-ip, or --node-cidr to find this node's address in. */
  node: { ip: number } | { cidr: Ipv4Prefix };
  networks: RouterNetworks;
  /** The router's own HTTP server; 0 when disabled or when the broker in this process serves it. */
  httpPort: number;
}

export function routerSettings(config: Config): RouterSettings {
  const node = config.nodeIp !== undefined ? { ip: config.nodeIp } : config.nodeCidr !== undefined ? { cidr: config.nodeCidr } : undefined;
  if (!node) throw new Error('the router needs --node-ip or --node-cidr to tell whether this node is the gateway of a link');
  return {
    node,
    networks: { meshCidr: config.meshCidr, nodeCidr: config.nodeCidr, podCidr: config.podCidr, serviceCidr: config.serviceCidr },
    // Both controllers in one process share the broker's HTTP server (one port).
    httpPort: config.controllers.includes('broker') ? 0 : config.serverPortHttp,
  };
}

export interface RouterOptions {
  /** Period of the full reconcile that repairs deleted or changed routes. */
  reconcileIntervalMs: number;
  /** /healthz fails when no reconcile has succeeded for this many periods. */
  unhealthyAfterPeriods: number;
  /** Where the links come from; default: --links or the Kubernetes API. */
  linkSource?: LinkSource;
  /** Route and address access; default: this process's network namespace. */
  net?: GatewayNet;
  /** Runs the reconcile period and the health decisions. */
  clock: Clock;
}

export const ROUTER_DEFAULTS: Omit<RouterOptions, 'linkSource' | 'net'> = {
  reconcileIntervalMs: 10_000,
  unhealthyAfterPeriods: 3,
  clock: systemClock,
};

export class Router {
  private readonly options: RouterOptions;
  private readonly settings: RouterSettings;
  private readonly net: GatewayNet;
  private readonly metrics = new RouterMetrics(() => this.linkSource?.stats?.());
  private linkSource: LinkSource | undefined;
  private http: HttpServer | undefined;
  private task: CoalescedTask | undefined;
  private timer: TimerHandle | undefined;
  private links: KubeLinkResource[] | undefined;
  private startedAt = 0;
  private lastSuccessAt: number | undefined;
  /** What was logged last, so a steady state is not logged every period. */
  private readonly logged = new StateLog<'node-ip' | 'skipped' | 'failed'>();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    options: Partial<RouterOptions> = {},
  ) {
    this.options = { ...ROUTER_DEFAULTS, ...options };
    this.settings = routerSettings(config);
    this.net = this.options.net ?? new GatewayNet();
  }

  async start(): Promise<void> {
    const { node, httpPort } = this.settings;
    this.startedAt = this.options.clock.now();
    this.task = createCoalescedTask(
      () => this.reconcile(),
      0,
      (err) => {
        this.metrics.recordReconcileError();
        this.log.error('route reconcile failed', { err });
      },
      this.options.clock,
    );

    if (httpPort > 0) {
      this.http = new HttpServer(
        {
          healthz: () => this.health(),
          readyz: () => (this.lastSuccessAt !== undefined ? { ok: true, detail: 'ok' } : { ok: false, detail: 'routes not reconciled yet' }),
          metrics: () => this.metrics.render(),
        },
        this.log,
      );
      await this.http.listen(httpPort);
    }

    try {
      this.linkSource = this.options.linkSource ?? (await createLinkSource(this.config, this.log));
      await this.linkSource.start((resources) => {
        this.links = resources;
        void this.task?.run();
      });
    } catch (err) {
      await this.stop();
      throw new Error('the router cannot read KubeLinks', { cause: err });
    }
    await this.task.run();
    // Not unref'd: with --server-port-http=0 and a file source this timer is what keeps
    // the process running.
    this.timer = this.options.clock.setInterval(() => void this.task?.run(), this.options.reconcileIntervalMs);
    this.log.info('router started', {
      nodeIp: 'ip' in node ? formatIpv4(node.ip) : undefined,
      nodeCidr: this.settings.networks.nodeCidr ? formatPrefix(this.settings.networks.nodeCidr) : undefined,
      reconcileIntervalMs: this.options.reconcileIntervalMs,
    });
  }

  /**
   * Stops reconciling. Routes stay in place on purpose: a restarted router (an update of
   * the DaemonSet) takes them over without a gap in forwarding.
   */
  async stop(): Promise<void> {
    this.options.clock.clearInterval(this.timer);
    this.timer = undefined;
    await this.linkSource?.stop();
    await this.task?.stop();
    await this.http?.close();
    this.http = undefined;
    this.net.close();
  }

  /** Runs one reconcile now (or waits for the one running and one more). */
  reconcileNow(): Promise<void> {
    return this.task?.run() ?? Promise.resolve();
  }

  private health(): { ok: boolean; detail: string } {
    const limit = this.options.reconcileIntervalMs * this.options.unhealthyAfterPeriods;
    const since = this.options.clock.now() - (this.lastSuccessAt ?? this.startedAt);
    if (since <= limit) return { ok: true, detail: 'ok' };
    return { ok: false, detail: `no successful route reconcile for ${Math.round(since / 1000)} s` };
  }

  private async ownNodeIp(): Promise<number | undefined> {
    const node = this.settings.node;
    if ('ip' in node) return node.ip;
    const nodeCidr = node.cidr;
    const ip = await this.net.localAddressIn(nodeCidr);
    const problem = ip === undefined ? `no local address inside --node-cidr ${formatPrefix(nodeCidr)}` : '';
    if (this.logged.changed('node-ip', problem)) {
      if (problem) this.log.warn('node IP unknown; routes are left as they are until it appears', { problem });
      else this.log.info('node IP found', { nodeIp: formatIpv4(ip!) });
    }
    return ip;
  }

  private async reconcile(): Promise<void> {
    const links = this.links;
    if (links === undefined) return;
    const nodeIp = await this.ownNodeIp();
    if (nodeIp === undefined) return;
    const plan = wantedRouterRoutes(links, nodeIp, this.settings.networks);

    if (this.logged.changed('skipped', plan.skipped)) {
      for (const s of plan.skipped) this.log.info('link gets no route on this node', { link: s.name, reason: s.reason });
    }

    const result = await this.net.reconcileRoutes(plan.routes, { protocol: ROUTER_ROUTE_PROTOCOL });
    const failedRoutes = new Set<object>(result.failed.map((f) => f.route));
    const done = <T extends object>(routes: T[]) => routes.filter((r) => !failedRoutes.has(r));
    const added = done(result.add);
    const replaced = done(result.replace);
    const removed = done(result.remove);
    const changes = [...added.map((r) => `add ${describeRoute(r)}`), ...replaced.map((r) => `replace ${describeRoute(r)}`), ...removed.map((r) => `remove ${describeRoute(r)}`)];
    if (changes.length > 0) this.log.info('routes changed', { changes, isGateway: plan.isGateway });
    if (this.logged.changed('failed', result.failed.map((f) => [f.kind, f.reason]))) {
      for (const f of result.failed) this.log.warn('route not installed', { route: describeRoute(f.route), kind: f.kind, reason: f.reason });
    }
    this.metrics.recordReconcile({
      wanted: plan.routes.length,
      failed: result.failed.length,
      skipped: plan.skipped.length,
      isGateway: plan.isGateway,
      added: added.length,
      replaced: replaced.length,
      removed: removed.length,
    });
    this.lastSuccessAt = this.options.clock.now();
  }
}
