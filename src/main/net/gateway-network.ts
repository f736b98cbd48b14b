// The broker's share of the gateway node's networking: the TUN's address and MTU, the SNAT
// rule to the cluster address, and one route into the TUN per served link. set up once,
// reconciled periodically (repairs deletions), torn down on clean shutdown.
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
    private readonly mtu: number,
    private readonly log: Logger,
  ) {}

  async setUp(ifname: string): Promise<void> {
    this.ifname = ifname;
    await this.net.configureTun(this.ifname, this.linkAddress, this.mtu);
    await this.net.ensureSnat(this.ifname, this.linkAddress.address);
  }

  /**
   * Routes into the TUN for `destinations` (one rtnetlink batch) and, with `snat`, the SNAT
   * rule (an iptables run: only on the periodic repair, never per link change). Resolves
   * with the destinations whose route is not in place.
   */
  async reconcile(destinations: readonly Ipv4Prefix[], options: { snat: boolean }): Promise<{ failed: readonly Ipv4Prefix[] }> {
    if (options.snat && (await this.net.ensureSnat(this.ifname, this.linkAddress.address)) === 'created') {
      this.log.warn('SNAT rule was missing and has been re-created', { ifname: this.ifname });
    }
    const result = await this.net.reconcileRoutes(deviceRoutes(this.ifname, destinations), { protocol: BROKER_ROUTE_PROTOCOL });
    if (result.add.length > 0 || result.replace.length > 0 || result.remove.length > 0) {
      this.log.info('routes reconciled', { added: result.add.length, replaced: result.replace.length, removed: result.remove.length });
    }
    for (const failure of result.failed) this.log.warn('route change failed', { kind: failure.kind, reason: failure.reason });
    // Only failed adds and replaces leave a wanted destination without its route; a failed
    // removal of an obsolete route does not.
    const wanted = new Set<object>([...result.add, ...result.replace]);
    return { failed: result.failed.filter((f) => wanted.has(f.route)).map((f) => f.route.destination) };
  }

  /** The node's IP inside --node-cidr, for status.gateway. */
  async nodeAddressIn(nodeCidr: Ipv4Prefix): Promise<number | undefined> {
    return this.net.localAddressIn(nodeCidr);
  }

  async tearDown(): Promise<void> {
    // Routes into the TUN vanish with the device when its descriptor closes.
    try {
      await this.net.removeSnat(this.ifname);
    } finally {
      this.net.close();
    }
  }
}
