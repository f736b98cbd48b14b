// Gateway networking through `ip` and `iptables` (execFile, no shell): the TUN's address,
// MTU and link state; the SNAT rule for traffic leaving through the TUN; and routes owned
// by kubelink. Every operation is idempotent, so callers simply re-run it periodically to
// repair what someone else deleted.
//
// Ownership markers, so only our own state is ever changed:
// - routes carry a route protocol number (`ip route ... proto N`): 211 for the broker's
//   routes into the TUN, 212 for the router's routes via the gateway node. Reconciling one
//   protocol removes obsolete routes of that protocol only; routes of any other protocol
//   (kernel, boot, static, CNI, the other controller) are never touched, and a foreign route
//   occupying a wanted destination is reported as a conflict instead of being replaced.
// - the SNAT rule carries the iptables comment `kubelink:<ifname>`; only rules with exactly
//   that comment are checked, replaced or removed.
import type { Ipv4Interface } from '../../shared/cidr.js';
import { formatIpv4, formatPrefix, parseIpv4, prefixContains } from '../../shared/cidr.js';
import type { Ipv4Prefix } from '../../shared/types.js';
import { CommandError, createCommandRunner } from './run-command.js';
import type { CommandRunner } from './run-command.js';

/** Route protocol of the broker's routes into the TUN (`proto 211`). */
export const BROKER_ROUTE_PROTOCOL = 211;
/** Route protocol of the router's routes via the gateway node (`proto 212`). */
export const ROUTER_ROUTE_PROTOCOL = 212;

export interface GatewayNetOptions {
  /** Runs the commands; default: execFile, inside `netns` when given. */
  runner?: CommandRunner;
  /** Network namespace to configure (tests, tools); default: the process's own. */
  netns?: string;
  /** How long iptables waits for the xtables lock held by kube-proxy and friends. */
  iptablesLockWaitSeconds?: number;
}

/** A route kubelink wants: into a device (`dev`), via a gateway (`via`), or both. */
export interface RouteSpec {
  destination: Ipv4Prefix;
  dev?: string;
  /** Next hop as an unsigned 32-bit IPv4 address. */
  via?: number;
}

/** A route as found in the kernel's main table. */
export interface InstalledRoute {
  destination: Ipv4Prefix;
  dev?: string;
  via?: number;
  metric?: number;
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

/** The iptables comment that marks the SNAT rule of `ifname` as ours. */
export function snatComment(ifname: string): string {
  return `kubelink:${ifname}`;
}

/** Routes into `dev` for each prefix: the broker's routes into the TUN. */
export function deviceRoutes(dev: string, prefixes: readonly Ipv4Prefix[]): RouteSpec[] {
  return prefixes.map((destination) => ({ destination, dev }));
}

function routeKey(p: Ipv4Prefix): string {
  return formatPrefix(p);
}

function routeMatches(installed: InstalledRoute, wanted: RouteSpec): boolean {
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

/** Parses `ip -j route show` output (dst is "default", "a.b.c.d" or "a.b.c.d/len"). */
export function parseRouteJson(json: string): InstalledRoute[] {
  const entries = JSON.parse(json.trim() === '' ? '[]' : json) as Array<Record<string, unknown>>;
  const routes: InstalledRoute[] = [];
  for (const e of entries) {
    const dst = String(e.dst ?? '');
    const [addressText, lengthText] = dst === 'default' ? ['0.0.0.0', '0'] : dst.split('/');
    const network = parseIpv4(addressText ?? '');
    if (network === undefined) continue; // not IPv4 (e.g. multicast/IPv6 entries): never ours
    const route: InstalledRoute = { destination: { network, prefixLength: lengthText === undefined ? 32 : Number(lengthText) } };
    if (typeof e.dev === 'string') route.dev = e.dev;
    if (typeof e.gateway === 'string') {
      const via = parseIpv4(e.gateway);
      if (via !== undefined) route.via = via;
    }
    if (typeof e.metric === 'number' && e.metric !== 0) route.metric = e.metric;
    routes.push(route);
  }
  return routes;
}

function routeArgs(r: RouteSpec | InstalledRoute, protocol: number): string[] {
  const args = [formatPrefix(r.destination)];
  if (r.via !== undefined) args.push('via', formatIpv4(r.via));
  if (r.dev !== undefined) args.push('dev', r.dev);
  if ('metric' in r && r.metric !== undefined) args.push('metric', String(r.metric));
  args.push('proto', String(protocol), 'table', 'main');
  return args;
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

function isFileExists(err: unknown): boolean {
  return err instanceof CommandError && /File exists/i.test(err.stderr);
}

/** `ip route del` of a route that is already gone: the goal is reached. */
function isNoSuchRoute(err: unknown): boolean {
  return err instanceof CommandError && /No such process/i.test(err.stderr);
}

export class GatewayNet {
  private readonly run: CommandRunner;
  private readonly lockWait: string;

  constructor(options: GatewayNetOptions = {}) {
    this.run = options.runner ?? createCommandRunner({ netns: options.netns });
    this.lockWait = String(options.iptablesLockWaitSeconds ?? 5);
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

  private async iptables(args: string[]): Promise<string> {
    return (await this.run('iptables', ['-w', this.lockWait, '-t', 'nat', ...args])).stdout;
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

  /** Same as ensureSnat; the name says what a periodic caller does with it. */
  reconcileSnat(ifname: string, clusterAddress: number): Promise<SnatResult> {
    return this.ensureSnat(ifname, clusterAddress);
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

  /** Routes of protocol `protocol` in the main table. */
  async listRoutes(protocol: number): Promise<InstalledRoute[]> {
    const { stdout } = await this.run('ip', ['-j', '-4', 'route', 'show', 'table', 'main', 'proto', String(protocol)]);
    return parseRouteJson(stdout);
  }

  /**
   * Makes the routes of `protocol` equal to `wanted`: adds missing ones, replaces changed
   * ones, removes obsolete ones of this protocol. Never touches other protocols' routes.
   * Failures of single routes (e.g. a foreign route holding a destination) do not stop the
   * others; they are returned in `failed`.
   */
  async reconcileRoutes(wanted: readonly RouteSpec[], options: { protocol: number }): Promise<RouteReconcileResult> {
    const { protocol } = options;
    let installed: InstalledRoute[];
    try {
      installed = await this.listRoutes(protocol);
    } catch (err) {
      throw new Error(`listing routes of protocol ${protocol} failed`, { cause: err });
    }
    const diff = diffRoutes(installed, wanted);
    const failed: RouteFailure[] = [];
    const attempt = async (route: RouteSpec | InstalledRoute, args: string[]) => {
      try {
        await this.run('ip', args);
      } catch (err) {
        if (args[1] === 'del' && isNoSuchRoute(err)) return;
        const conflict = isFileExists(err);
        const reason = conflict ? `a foreign route already holds ${formatPrefix(route.destination)}` : (err as Error).message;
        failed.push({ route, kind: conflict ? 'conflict' : 'error', reason });
      }
    };
    for (const r of diff.replace) await attempt(r, ['route', 'replace', ...routeArgs(r, protocol)]);
    for (const r of diff.add) await attempt(r, ['route', 'add', ...routeArgs(r, protocol)]);
    for (const r of diff.remove) await attempt(r, ['route', 'del', ...routeArgs(r, protocol)]);
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
}
