// Gateway networking: the TUN's address, MTU and link state and the SNAT rule (`ip` and
// `iptables` through execFile, no shell: they run once at start and on periodic checks,
// never per link), and routes owned by kubelink (rtnetlink through the RouteBatcher: one
// batch per reconcile, no fork per route). Every operation is idempotent, so callers
// simply re-run it periodically to repair what someone else deleted.
//
// The router uses the route and address operations; the broker's data plane uses the TUN
// operations (setUpTun, reconcileTun, tearDownTun) for its share of the gateway node: the
// TUN's address and MTU, the SNAT rule to the cluster address, one route into the TUN per
// served link, the inbound guard (no new connections from the tunnel to the gateway
// itself) and an unreachable route for the local service CIDR (addresses no service claims
// do not leave by the default route: kube-proxy DNATs the assigned ones before routing, as
// kube-proxy's nftables mode rejects unallocated ClusterIPs).
//
// Ownership markers, so only our own state is ever changed:
// - routes carry a route protocol number (`ip route ... proto N`): 211 for the broker's
//   routes into the TUN, 212 for the router's routes via the gateway node. Reconciling one
//   protocol removes obsolete routes of that protocol only; routes of any other protocol
//   (kernel, boot, static, CNI, the other controller) are never touched, and a foreign route
//   occupying a wanted destination is reported as a conflict instead of being replaced.
// - the SNAT rule carries the iptables comment `kubelink:<ifname>`; only rules with exactly
//   that comment are checked, replaced or removed.
// - the inbound guard (filter table) is a chain of our own, KUBELINK-IN-<ifname>, entered
//   from INPUT by a rule with the same comment: new connections from the tunnel to the
//   gateway itself are refused (docs/architecture.md, "Gateway guard").
import type { Ipv4Interface } from '../../shared/cidr.js';
import { formatIpv4, formatPrefix, parseIpv4, prefixContains } from '../../shared/cidr.js';
import type { Ipv4Prefix } from '../../shared/types.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { createCommandRunner } from './run-command.js';
import type { CommandRunner } from './run-command.js';
import { RT_TABLE_MAIN } from './rtnetlink.js';
import type { KernelRoute, NetlinkAck, RouteChange, RouteType } from './rtnetlink.js';
import { NetlinkRouteBatcher } from './route-batcher.js';
import type { RouteBatcher } from './route-batcher.js';

/** Route protocol of the broker's routes into the TUN (`proto 211`). */
export const BROKER_ROUTE_PROTOCOL = 211;
/** Route protocol of the router's routes via the gateway node (`proto 212`). */
export const ROUTER_ROUTE_PROTOCOL = 212;

export interface GatewayNetOptions {
  /** Runs the commands; default: execFile, inside `netns` when given. */
  runner?: CommandRunner;
  /** Reads and changes routes; default: rtnetlink, inside `netns` when given. */
  routes?: RouteBatcher;
  /** Network namespace to configure (tests, tools); default: the process's own. */
  netns?: string;
  /** How long iptables waits for the xtables lock held by kube-proxy and friends. */
  iptablesLockWaitSeconds?: number;
  /** Where the TUN operations log repairs and route changes; default: nowhere. */
  log?: Logger;
}

/** The broker's TUN as the gateway networking sets it up. */
export interface TunGateway {
  ifname: string;
  /** The cluster address in the mesh CIDR: the TUN's address and the SNAT source. */
  linkAddress: Ipv4Interface;
  /** The local service CIDR: routed 'unreachable' so only DNATed (assigned) addresses get through. */
  serviceCidr: Ipv4Prefix;
  mtu: number;
  /** The broker's mesh DNS port (--dns-port; 0 or absent: none), which the guard admits from peers. */
  dnsPort?: number;
}

function guardOpening(tun: TunGateway): GuardOpening | undefined {
  return tun.dnsPort ? { address: tun.linkAddress.address, port: tun.dnsPort } : undefined;
}

/**
 * A route kubelink wants: into a device (`dev`), via a gateway (`via`), or both; or a
 * route that rejects traffic (`type` unreachable, prohibit, blackhole) for address space
 * that must not leak elsewhere.
 */
export interface RouteSpec {
  destination: Ipv4Prefix;
  dev?: string;
  /** Next hop as an unsigned 32-bit IPv4 address. */
  via?: number;
  /** Default 'unicast' (forwarding). */
  type?: RouteType;
}

/** A route as found in the kernel's main table. */
export interface InstalledRoute {
  destination: Ipv4Prefix;
  dev?: string;
  via?: number;
  metric?: number;
  /** Absent for 'unicast'. */
  type?: RouteType | 'other';
}

export interface RouteDiff {
  /** Wanted routes with no route of ours for their destination. */
  add: RouteSpec[];
  /** Wanted routes whose destination has a route of ours with another dev/via (metric 0). */
  replace: RouteSpec[];
  /** Routes of ours that are not wanted (obsolete or duplicates). */
  remove: InstalledRoute[];
}

export interface RouteFailure {
  route: RouteSpec | InstalledRoute;
  /** 'conflict' when a foreign route holds the destination; 'error' otherwise. */
  kind: 'conflict' | 'error';
  reason: string;
}

export interface RouteReconcileResult extends RouteDiff {
  failed: RouteFailure[];
}

export type SnatResult = 'present' | 'created';

const SNAT_CHAIN = 'POSTROUTING';

/** The filter chain guarding the gateway against new connections from the tunnel `ifname`. */
export function inboundGuardChain(ifname: string): string {
  return `KUBELINK-IN-${ifname}`; // at most 12 + 15 characters: within iptables' 28
}

/** A port of the gateway that peers may open connections to: the broker's mesh DNS. */
export interface GuardOpening {
  /** The cluster address (the only destination it is open on). */
  address: number;
  /** UDP and TCP. */
  port: number;
}

/**
 * The guard chain's rules (arguments after `-A CHAIN`, as `iptables -S` prints them).
 * Packets from the tunnel that reach INPUT are addressed to the gateway itself (the shard
 * admits only our cluster address, our service CIDR and published mesh addresses; service
 * traffic is DNATed and forwarded). Replies to our own connections (ESTABLISHED, RELATED)
 * and ports published on purpose (DNAT or REDIRECT by whoever publishes them) pass, as do
 * ping and `open` (the mesh DNS port on the cluster address, UDP and TCP: peers' brokers
 * ask it for our MeshService names); anything else is a new connection a peer has no
 * business opening: TCP gets a reset, the rest port-unreachable.
 */
export function inboundGuardRules(open?: GuardOpening): string[][] {
  const dns = open
    ? (['udp', 'tcp'] as const).map((p) => ['-d', `${formatIpv4(open.address)}/32`, '-p', p, '-m', p, '--dport', String(open.port), '-j', 'RETURN'])
    : [];
  return [
    ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'RETURN'],
    ['-p', 'icmp', '-m', 'icmp', '--icmp-type', '8', '-j', 'RETURN'],
    ...dns,
    ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
  ];
}

/** The iptables comment that marks the SNAT rule of `ifname` as ours. */
export function snatComment(ifname: string): string {
  return `kubelink:${ifname}`;
}

/** A route as `ip route` prints it: `unreachable 10.0.0.0/8`, `100.64.0.0/20 via 10.0.0.2 dev eth0`. */
export function describeRoute(route: RouteSpec | InstalledRoute): string {
  const parts: string[] = [];
  if (route.type !== undefined && route.type !== 'unicast') parts.push(route.type);
  parts.push(formatPrefix(route.destination));
  if (route.via !== undefined) parts.push('via', formatIpv4(route.via));
  if (route.dev !== undefined) parts.push('dev', route.dev);
  if ('metric' in route && route.metric !== undefined) parts.push('metric', String(route.metric));
  return parts.join(' ');
}

/** Routes into `dev` for each prefix: the broker's routes into the TUN. */
export function deviceRoutes(dev: string, prefixes: readonly Ipv4Prefix[]): RouteSpec[] {
  return prefixes.map((destination) => ({ destination, dev }));
}

function routeKey(p: Ipv4Prefix): string {
  return formatPrefix(p);
}

function routeMatches(installed: InstalledRoute, wanted: RouteSpec): boolean {
  if ((installed.type ?? 'unicast') !== (wanted.type ?? 'unicast')) return false;
  if (wanted.dev !== undefined && installed.dev !== wanted.dev) return false;
  return installed.via === wanted.via;
}

/**
 * Pure diff between the routes of our protocol that are installed and those wanted.
 * A destination is satisfied by one matching installed route; any other installed route
 * of ours for it is removed, and a mismatching metric-0 route is replaced in place (atomic
 * `ip route replace`, no gap in forwarding).
 */
export function diffRoutes(installed: readonly InstalledRoute[], wanted: readonly RouteSpec[]): RouteDiff {
  const wantedByKey = new Map<string, RouteSpec>();
  for (const w of wanted) wantedByKey.set(routeKey(w.destination), w);
  const installedByKey = new Map<string, InstalledRoute[]>();
  for (const r of installed) {
    const key = routeKey(r.destination);
    const list = installedByKey.get(key) ?? [];
    list.push(r);
    installedByKey.set(key, list);
  }

  const diff: RouteDiff = { add: [], replace: [], remove: [] };
  for (const [key, w] of wantedByKey) {
    const present = installedByKey.get(key) ?? [];
    const keep = present.find((r) => routeMatches(r, w));
    if (keep) {
      diff.remove.push(...present.filter((r) => r !== keep));
      continue;
    }
    const replaceable = present.find((r) => !r.metric);
    if (replaceable) diff.replace.push(w);
    else diff.add.push(w);
    diff.remove.push(...present.filter((r) => r !== replaceable));
  }
  for (const [key, list] of installedByKey) {
    if (!wantedByKey.has(key)) diff.remove.push(...list);
  }
  return diff;
}

/** Splits an `iptables -S` line into arguments, honouring double quotes. */
export function splitIptablesLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  }
  return out;
}

function argAfter(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export class GatewayNet {
  private readonly run: CommandRunner;
  private readonly routes: RouteBatcher;
  private readonly lockWait: string;
  private readonly log: Logger;

  constructor(options: GatewayNetOptions = {}) {
    this.run = options.runner ?? createCommandRunner({ netns: options.netns });
    this.routes = options.routes ?? new NetlinkRouteBatcher({ netns: options.netns });
    this.lockWait = String(options.iptablesLockWaitSeconds ?? 5);
    this.log = options.log ?? silentLogger;
  }

  /** Releases the netlink socket (after the exchanges already started). */
  close(): void {
    this.routes.close();
  }

  /**
   * Gives the (already opened) TUN its address and MTU and sets it up. Other IPv4
   * addresses on it are removed, so a changed --link-address does not leave the old one.
   */
  async configureTun(ifname: string, address: Ipv4Interface, mtu: number): Promise<void> {
    const wanted = `${formatIpv4(address.address)}/${address.prefixLength}`;
    try {
      await this.run('ip', ['link', 'set', 'dev', ifname, 'mtu', String(mtu)]);
      const { stdout } = await this.run('ip', ['-j', '-4', 'addr', 'show', 'dev', ifname]);
      const links = JSON.parse(stdout.trim() || '[]') as Array<{ addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }> }>;
      for (const info of links.flatMap((l) => l.addr_info ?? [])) {
        const present = `${info.local}/${info.prefixlen}`;
        if (info.family === 'inet' && present !== wanted) await this.run('ip', ['addr', 'del', present, 'dev', ifname]);
      }
      await this.run('ip', ['addr', 'replace', wanted, 'dev', ifname]);
      await this.run('ip', ['link', 'set', 'dev', ifname, 'up']);
    } catch (err) {
      throw new Error(`configuring ${ifname} with ${wanted} mtu ${mtu} failed`, { cause: err });
    }
  }

  private async iptables(args: string[], table: 'nat' | 'filter' = 'nat'): Promise<string> {
    return (await this.run('iptables', ['-w', this.lockWait, '-t', table, ...args])).stdout;
  }

  /**
   * Ensures the inbound guard of `ifname`: its chain holds exactly inboundGuardRules(open)
   * and INPUT jumps to it first for packets from `ifname`. Idempotent; returns 'created'
   * when something had to be (re)made, so callers can log a repair.
   */
  async ensureInboundGuard(ifname: string, open?: GuardOpening): Promise<SnatResult> {
    const chain = inboundGuardChain(ifname);
    const comment = snatComment(ifname);
    try {
      let repaired = false;
      const listing = await this.iptables(['-S'], 'filter');
      const lines = listing.split('\n').map(splitIptablesLine);
      if (!lines.some((a) => a[0] === '-N' && a[1] === chain)) {
        await this.iptables(['-N', chain], 'filter');
        repaired = true;
      }
      const present = lines.filter((a) => a[0] === '-A' && a[1] === chain).map((a) => a.slice(2).join(' '));
      const wanted = inboundGuardRules(open);
      if (present.join('\n') !== wanted.map((r) => r.join(' ')).join('\n')) {
        await this.iptables(['-F', chain], 'filter');
        for (const rule of wanted) await this.iptables(['-A', chain, ...rule], 'filter');
        repaired = true;
      }
      const jumps = lines.filter((a) => a[0] === '-A' && a[1] === 'INPUT' && argAfter(a, '--comment') === comment);
      const isWanted = (a: string[]) => argAfter(a, '-i') === ifname && argAfter(a, '-j') === chain;
      const keep = jumps.find(isWanted);
      for (const a of jumps) if (a !== keep) await this.iptables(['-D', 'INPUT', ...a.slice(2)], 'filter');
      if (!keep) {
        await this.iptables(['-I', 'INPUT', '1', '-i', ifname, '-m', 'comment', '--comment', comment, '-j', chain], 'filter');
        repaired = true;
      }
      return repaired ? 'created' : 'present';
    } catch (err) {
      throw new Error(`ensuring the inbound guard of ${ifname} failed`, { cause: err });
    }
  }

  /** Removes the inbound guard of `ifname` (clean shutdown). */
  async removeInboundGuard(ifname: string): Promise<void> {
    const chain = inboundGuardChain(ifname);
    try {
      const lines = (await this.iptables(['-S'], 'filter')).split('\n').map(splitIptablesLine);
      for (const a of lines) {
        if (a[0] === '-A' && a[1] === 'INPUT' && argAfter(a, '--comment') === snatComment(ifname)) await this.iptables(['-D', 'INPUT', ...a.slice(2)], 'filter');
      }
      if (lines.some((a) => a[0] === '-N' && a[1] === chain)) {
        await this.iptables(['-F', chain], 'filter');
        await this.iptables(['-X', chain], 'filter');
      }
    } catch (err) {
      throw new Error(`removing the inbound guard of ${ifname} failed`, { cause: err });
    }
  }

  /** Our SNAT rules for `ifname`, as argument lists after the chain name. */
  private async ownSnatRules(ifname: string): Promise<string[][]> {
    const comment = snatComment(ifname);
    const listing = await this.iptables(['-S', SNAT_CHAIN]);
    return listing
      .split('\n')
      .map(splitIptablesLine)
      .filter((args) => args[0] === '-A' && args[1] === SNAT_CHAIN && argAfter(args, '--comment') === comment)
      .map((args) => args.slice(2));
  }

  /**
   * Ensures `POSTROUTING -o ifname -j SNAT --to-source clusterAddress`, marked with our
   * comment. Inserted first in the chain so no earlier MASQUERADE rule picks another source.
   * Own rules with another address or interface are removed. Re-run it periodically: it
   * returns 'created' when the rule had to be (re)made.
   */
  async ensureSnat(ifname: string, clusterAddress: number): Promise<SnatResult> {
    const source = formatIpv4(clusterAddress);
    try {
      const own = await this.ownSnatRules(ifname);
      const isWanted = (args: string[]) =>
        argAfter(args, '-o') === ifname && argAfter(args, '-j') === 'SNAT' && argAfter(args, '--to-source') === source;
      const keep = own.find(isWanted);
      for (const args of own) if (args !== keep) await this.iptables(['-D', SNAT_CHAIN, ...args]);
      if (keep) return 'present';
      await this.iptables([
        '-I', SNAT_CHAIN, '1', '-o', ifname, '-m', 'comment', '--comment', snatComment(ifname),
        '-j', 'SNAT', '--to-source', source,
      ]);
      return 'created';
    } catch (err) {
      throw new Error(`ensuring SNAT of ${ifname} to ${source} failed`, { cause: err });
    }
  }

  /** Removes our SNAT rules for `ifname` (clean shutdown); returns how many were removed. */
  async removeSnat(ifname: string): Promise<number> {
    try {
      const own = await this.ownSnatRules(ifname);
      for (const args of own) await this.iptables(['-D', SNAT_CHAIN, ...args]);
      return own.length;
    } catch (err) {
      throw new Error(`removing SNAT of ${ifname} failed`, { cause: err });
    }
  }

  /** Routes of protocol `protocol` in the main table, with device names. */
  async listRoutes(protocol: number): Promise<InstalledRoute[]> {
    return (await this.installedRoutes(protocol, new Map())).map((entry) => entry.installed);
  }

  /** The kernel's routes of `protocol`, each with its InstalledRoute view (oif named). */
  private async installedRoutes(protocol: number, knownIndexes: ReadonlyMap<string, number>): Promise<Array<{ installed: InstalledRoute; kernel: KernelRoute }>> {
    const kernelRoutes = await this.routes.dumpRoutes(protocol);
    const names = new Map<number, string>([...knownIndexes].map(([name, index]) => [index, name]));
    const unknown = [...new Set(kernelRoutes.map((r) => r.oif).filter((oif): oif is number => oif !== undefined && !names.has(oif)))];
    for (const [index, name] of await this.routes.linkNames(unknown)) names.set(index, name);
    return kernelRoutes.map((kernel) => {
      const installed: InstalledRoute = { destination: kernel.destination };
      if (kernel.oif !== undefined) installed.dev = names.get(kernel.oif) ?? `if${kernel.oif}`;
      if (kernel.gateway !== undefined) installed.via = kernel.gateway;
      if (kernel.priority) installed.metric = kernel.priority;
      if (kernel.type !== 'unicast') installed.type = kernel.type;
      return { installed, kernel };
    });
  }

  /**
   * Makes the routes of `protocol` equal to `wanted`: adds missing ones, replaces changed
   * ones, removes obsolete ones of this protocol. Never touches other protocols' routes.
   * All changes go to the kernel as one batch; failures of single routes (e.g. a foreign
   * route holding a destination, a missing device) do not stop the others and are
   * returned in `failed`.
   */
  async reconcileRoutes(wanted: readonly RouteSpec[], options: { protocol: number }): Promise<RouteReconcileResult> {
    const { protocol } = options;
    const failed: RouteFailure[] = [];
    let indexes: Map<string, number | NetlinkAck>;
    let installed: Array<{ installed: InstalledRoute; kernel: KernelRoute }>;
    try {
      indexes = await this.routes.linkIndexes([...new Set(wanted.flatMap((w) => (w.dev === undefined ? [] : [w.dev])))]);
      const known = new Map([...indexes].filter((e): e is [string, number] => typeof e[1] === 'number'));
      installed = await this.installedRoutes(protocol, known);
    } catch (err) {
      throw new Error(`listing routes of protocol ${protocol} failed`, { cause: err });
    }
    const kernelOf = new Map(installed.map((e) => [e.installed, e.kernel]));
    const diff = diffRoutes(installed.map((e) => e.installed), wanted);

    const changes: RouteChange[] = [];
    const sources: Array<RouteSpec | InstalledRoute> = [];
    const want = (op: 'add' | 'replace', route: RouteSpec) => {
      const oif = route.dev === undefined ? undefined : indexes.get(route.dev);
      if (typeof oif === 'object') {
        failed.push({ route, kind: 'error', reason: `route ${op} ${describeRoute(route)}: no device ${route.dev} (${oif.code})` });
        return;
      }
      const kernel: KernelRoute = { destination: route.destination, table: RT_TABLE_MAIN, protocol, type: route.type ?? 'unicast' };
      if (oif !== undefined) kernel.oif = oif;
      if (route.via !== undefined) kernel.gateway = route.via;
      changes.push({ op, route: kernel });
      sources.push(route);
    };
    for (const r of diff.replace) want('replace', r);
    for (const r of diff.add) want('add', r);
    for (const r of diff.remove) {
      changes.push({ op: 'delete', route: kernelOf.get(r)! });
      sources.push(r);
    }

    const acks = await this.routes.apply(changes);
    acks.forEach((ack, i) => {
      const { op } = changes[i]!;
      const route = sources[i]!;
      if (ack.errno === 0) return;
      if (op === 'delete' && ack.code === 'ESRCH') return; // already gone: the goal is reached
      const conflict = op === 'add' && ack.code === 'EEXIST';
      const reason = conflict
        ? `a foreign route already holds ${formatPrefix(route.destination)}`
        : `route ${op} ${describeRoute(route)}: ${ack.description} (${ack.code})${ack.message ? `: ${ack.message}` : ''}`;
      failed.push({ route, kind: conflict ? 'conflict' : 'error', reason });
    });
    return { ...diff, failed };
  }

  /**
   * The first local IPv4 address inside `prefix` (lowest interface index first): the
   * node IP when --node-ip is not given.
   */
  async localAddressIn(prefix: Ipv4Prefix): Promise<number | undefined> {
    const { stdout } = await this.run('ip', ['-j', '-4', 'addr', 'show']);
    const links = JSON.parse(stdout.trim() || '[]') as Array<{ ifindex?: number; addr_info?: Array<{ local?: string }> }>;
    links.sort((a, b) => (a.ifindex ?? 0) - (b.ifindex ?? 0));
    for (const info of links.flatMap((l) => l.addr_info ?? [])) {
      const address = parseIpv4(info.local ?? '');
      if (address !== undefined && prefixContains(prefix, address)) return address;
    }
    return undefined;
  }

  /** The broker's TUN: address, MTU and link up, the SNAT rule and the inbound guard. */
  async setUpTun(tun: TunGateway): Promise<void> {
    await this.configureTun(tun.ifname, tun.linkAddress, tun.mtu);
    await this.ensureSnat(tun.ifname, tun.linkAddress.address);
    await this.ensureInboundGuard(tun.ifname, guardOpening(tun));
  }

  /**
   * Routes into the TUN for `destinations` and the unreachable service CIDR (one rtnetlink
   * batch) and, with `iptables`, the SNAT rule and the inbound guard (iptables runs: only on
   * the periodic repair, never per link change). Resolves with the destinations whose
   * route is not in place.
   */
  async reconcileTun(tun: TunGateway, destinations: readonly Ipv4Prefix[], options: { iptables: boolean }): Promise<{ failed: readonly Ipv4Prefix[] }> {
    const { ifname } = tun;
    if (options.iptables) {
      if ((await this.ensureSnat(ifname, tun.linkAddress.address)) === 'created') {
        this.log.warn('SNAT rule was missing and has been re-created', { ifname });
      }
      if ((await this.ensureInboundGuard(ifname, guardOpening(tun))) === 'created') {
        this.log.warn('inbound guard was missing or changed and has been re-created', { ifname });
      }
    }
    const wanted = [...deviceRoutes(ifname, destinations), { destination: tun.serviceCidr, type: 'unreachable' as const }];
    const result = await this.reconcileRoutes(wanted, { protocol: BROKER_ROUTE_PROTOCOL });
    if (result.add.length > 0 || result.replace.length > 0 || result.remove.length > 0) {
      this.log.info('routes reconciled', { added: result.add.length, replaced: result.replace.length, removed: result.remove.length });
    }
    for (const failure of result.failed) this.log.warn('route change failed', { kind: failure.kind, reason: failure.reason });
    // Only failed adds and replaces leave a wanted destination without its route; a failed
    // removal of an obsolete route does not.
    const installing = new Set<object>([...result.add, ...result.replace]);
    return { failed: result.failed.filter((f) => installing.has(f.route)).map((f) => f.route.destination) };
  }

  /** Undoes setUpTun and the broker's routes, then closes (the data plane's last use). */
  async tearDownTun(tun: TunGateway): Promise<void> {
    // Routes into the TUN vanish with the device when its descriptor closes; the
    // unreachable route does not, and a standby must not keep it.
    try {
      await this.removeSnat(tun.ifname);
      await this.removeInboundGuard(tun.ifname);
      await this.reconcileRoutes([], { protocol: BROKER_ROUTE_PROTOCOL });
    } finally {
      this.close();
    }
  }
}
