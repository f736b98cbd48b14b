// The broker's share of the gateway node's networking: the TUN's address and MTU, the SNAT
// rule to the cluster address, one route into the TUN per served link, the inbound guard
// (no new connections from the tunnel to the gateway itself) and an unreachable route for
// the local service CIDR (addresses no service claims do not leave by the default route:
// kube-proxy DNATs the assigned ones before routing, as kube-proxy's nftables mode rejects
// unallocated ClusterIPs). Set up once, reconciled periodically (repairs deletions), torn
// down on clean shutdown.
import type { Ipv4Interface } from '../../shared/cidr.js';
import type { Ipv4Prefix } from '../../shared/types.js';
import { BROKER_ROUTE_PROTOCOL, GatewayNet, deviceRoutes } from './gateway-net.js';
import type { Logger } from '../../shared/log.js';

export class GatewayNetwork {
  private readonly net = new GatewayNet();
  /** The TUN device, known once the data path has opened it. */
  private ifname = '';

  constructor(
    private readonly linkAddress: Ipv4Interface,
    /** The local service CIDR: routed 'unreachable' so only DNATed (assigned) addresses get through. */
    private readonly serviceCidr: Ipv4Prefix,
    private readonly mtu: number,
    private readonly log: Logger,
  ) {}

  async setUp(ifname: string): Promise<void> {
    this.ifname = ifname;
    await this.net.configureTun(this.ifname, this.linkAddress, this.mtu);
    await this.net.ensureSnat(this.ifname, this.linkAddress.address);
    await this.net.ensureInboundGuard(this.ifname);
  }

  /**
   * Routes into the TUN for `destinations` and the unreachable service CIDR (one rtnetlink
   * batch) and, with `iptables`, the SNAT rule and the inbound guard (iptables runs: only on
   * the periodic repair, never per link change). Resolves with the destinations whose
   * route is not in place.
   */
  async reconcile(destinations: readonly Ipv4Prefix[], options: { iptables: boolean }): Promise<{ failed: readonly Ipv4Prefix[] }> {
    if (options.iptables) {
      if ((await this.net.ensureSnat(this.ifname, this.linkAddress.address)) === 'created') {
        this.log.warn('SNAT rule was missing and has been re-created', { ifname: this.ifname });
      }
      if ((await this.net.ensureInboundGuard(this.ifname)) === 'created') {
        this.log.warn('inbound guard was missing or changed and has been re-created', { ifname: this.ifname });
      }
    }
    const wanted = [...deviceRoutes(this.ifname, destinations), { destination: this.serviceCidr, type: 'unreachable' as const }];
    const result = await this.net.reconcileRoutes(wanted, { protocol: BROKER_ROUTE_PROTOCOL });
    if (result.add.length > 0 || result.replace.length > 0 || result.remove.length > 0) {
      this.log.info('routes reconciled', { added: result.add.length, replaced: result.replace.length, removed: result.remove.length });
    }
    for (const failure of result.failed) this.log.warn('route change failed', { kind: failure.kind, reason: failure.reason });
    // Only failed adds and replaces leave a wanted destination without its route; a failed
    // removal of an obsolete route does not.
    const installing = new Set<object>([...result.add, ...result.replace]);
    return { failed: result.failed.filter((f) => installing.has(f.route)).map((f) => f.route.destination) };
  }

  /** The node's IP inside --node-cidr, for status.gateway. */
  async nodeAddressIn(nodeCidr: Ipv4Prefix): Promise<number | undefined> {
    return this.net.localAddressIn(nodeCidr);
  }

  async tearDown(): Promise<void> {
    // Routes into the TUN vanish with the device when its descriptor closes; the
    // unreachable route does not, and a standby must not keep it.
    try {
      await this.net.removeSnat(this.ifname);
      await this.net.removeInboundGuard(this.ifname);
      await this.net.reconcileRoutes([], { protocol: BROKER_ROUTE_PROTOCOL });
    } finally {
      this.net.close();
    }
  }
}
