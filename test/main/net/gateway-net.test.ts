import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  BROKER_ROUTE_PROTOCOL,
  GatewayNet,
  ROUTER_ROUTE_PROTOCOL,
  deviceRoutes,
  diffRoutes,
  splitIptablesLine,
} from '../../../src/main/net/gateway-net.js';
import type { InstalledRoute } from '../../../src/main/net/gateway-net.js';
import { parseIpv4, parsePrefix } from '../../../src/shared/cidr.js';
import type { Ipv4Prefix } from '../../../src/shared/types.js';

function prefix(text: string): Ipv4Prefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}
function ip4(text: string): number {
  const a = parseIpv4(text);
  if (a === undefined) throw new Error(text);
  return a;
}

// ---- pure parts ----

test('diffRoutes adds missing, keeps matching, replaces changed and removes obsolete own routes', () => {
  const installed: InstalledRoute[] = [
    { destination: prefix('100.64.16.0/20'), dev: 'kl' },
    { destination: prefix('100.64.32.0/20'), dev: 'old' },
    { destination: prefix('100.64.48.0/20'), dev: 'kl' },
  ];
  const wanted = deviceRoutes('kl', [prefix('100.64.16.0/20'), prefix('100.64.32.0/20'), prefix('100.64.64.0/20')]);
  const diff = diffRoutes(installed, wanted);
  assert.deepEqual(diff.add, [wanted[2]]);
  assert.deepEqual(diff.replace, [wanted[1]]);
  assert.deepEqual(diff.remove, [installed[2]]);
});

test('diffRoutes compares via routes by gateway and removes duplicates of a destination', () => {
  const installed: InstalledRoute[] = [
    { destination: prefix('192.168.0.0/24'), dev: 'eth0', via: ip4('10.250.0.2') },
    { destination: prefix('192.168.0.0/24'), dev: 'eth0', via: ip4('10.250.0.9'), metric: 10 },
  ];
  const diff = diffRoutes(installed, [{ destination: prefix('192.168.0.0/24'), via: ip4('10.250.0.2') }]);
  assert.deepEqual(diff, { add: [], replace: [], remove: [installed[1]] });
  const moved = diffRoutes(installed, [{ destination: prefix('192.168.0.0/24'), via: ip4('10.250.0.3') }]);
  assert.equal(moved.replace.length, 1, 'the metric-0 route is replaced in place');
  assert.deepEqual(moved.remove, [installed[1]]);
});

test('splitIptablesLine unquotes comments', () => {
  assert.deepEqual(splitIptablesLine('-A POSTROUTING -o kl -m comment --comment "kubelink:kl" -j SNAT --to-source 1.2.3.4'), [
    '-A', 'POSTROUTING', '-o', 'kl', '-m', 'comment', '--comment', 'kubelink:kl', '-j', 'SNAT', '--to-source', '1.2.3.4',
  ]);
  assert.deepEqual(splitIptablesLine('--comment "a \\"b\\" c"'), ['--comment', 'a "b" c']);
});

// ---- against a real namespace (root) ----

const NS = `kl${randomBytes(2).toString('hex')}gn`;
const TUN = 'kltun0';
const net = new GatewayNet({ netns: NS });

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
}
function inNs(cmd: string, ...args: string[]): string {
  return sh(['ip', 'netns', 'exec', NS, cmd, ...args]);
}
function routes(): string {
  return sh(['ip', '-n', NS, '-4', 'route', 'show', 'table', 'main']);
}
function natRules(): string {
  return inNs('iptables', '-t', 'nat', '-S', 'POSTROUTING');
}

before(() => {
  sh(['ip', 'netns', 'add', NS]);
  // A persistent TUN stands in for the broker's device (this kernel has no dummy links).
  sh(['ip', '-n', NS, 'tuntap', 'add', 'mode', 'tun', 'name', TUN]);
  sh(['ip', '-n', NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
  sh(['ip', '-n', NS, 'link', 'set', 'eth0', 'up']);
  sh(['ip', '-n', NS, 'link', 'set', 'eth0p', 'up']);
  sh(['ip', '-n', NS, 'addr', 'add', '10.250.0.3/24', 'dev', 'eth0']);
});

after(() => {
  try {
    sh(['ip', 'netns', 'del', NS]);
  } catch {
    // already gone
  }
});

test('configureTun sets address, mtu and up, idempotently, and drops a previous address', async () => {
  await net.configureTun(TUN, { address: ip4('192.168.0.11'), prefixLength: 24 }, 1400);
  await net.configureTun(TUN, { address: ip4('192.168.0.11'), prefixLength: 24 }, 1400);
  let link = JSON.parse(sh(['ip', '-n', NS, '-j', 'addr', 'show', 'dev', TUN]))[0];
  assert.equal(link.mtu, 1400);
  assert.ok(link.flags.includes('UP'));
  assert.deepEqual(link.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), ['192.168.0.11/24']);
  await net.configureTun(TUN, { address: ip4('192.168.0.21'), prefixLength: 24 }, 1500);
  link = JSON.parse(sh(['ip', '-n', NS, '-j', 'addr', 'show', 'dev', TUN]))[0];
  assert.equal(link.mtu, 1500);
  assert.deepEqual(link.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string }) => a.local), ['192.168.0.21']);
  await net.configureTun(TUN, { address: ip4('192.168.0.11'), prefixLength: 24 }, 1500);
});

test('configureTun of a missing device fails with the device named', async () => {
  await assert.rejects(net.configureTun('klnosuch', { address: ip4('192.168.0.11'), prefixLength: 24 }, 1500), /configuring klnosuch/);
});

test('SNAT is created once, re-created after deletion, and removal leaves foreign rules alone', async () => {
  inNs('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', TUN, '-m', 'comment', '--comment', 'someone-else', '-j', 'MASQUERADE');
  assert.equal(await net.ensureSnat(TUN, ip4('192.168.0.11')), 'created');
  assert.equal(await net.ensureSnat(TUN, ip4('192.168.0.11')), 'present');
  const ours = natRules().split('\n').filter((l) => l.includes('kubelink:'));
  assert.deepEqual(ours, [`-A POSTROUTING -o ${TUN} -m comment --comment "kubelink:${TUN}" -j SNAT --to-source 192.168.0.11`]);
  assert.match(natRules().split('\n')[1]!, /kubelink:/, 'our rule comes first in the chain');

  inNs('iptables', '-t', 'nat', '-D', 'POSTROUTING', '-o', TUN, '-m', 'comment', '--comment', `kubelink:${TUN}`, '-j', 'SNAT', '--to-source', '192.168.0.11');
  assert.doesNotMatch(natRules(), /kubelink:/);
  assert.equal(await net.ensureSnat(TUN, ip4('192.168.0.11')), 'created');
  assert.match(natRules(), /--to-source 192\.168\.0\.11/);

  // a changed cluster address replaces our rule rather than adding a second one
  assert.equal(await net.ensureSnat(TUN, ip4('192.168.0.21')), 'created');
  assert.equal(natRules().split('\n').filter((l) => l.includes('kubelink:')).length, 1);
  assert.match(natRules(), /--to-source 192\.168\.0\.21/);

  assert.equal(await net.removeSnat(TUN), 1);
  assert.equal(await net.removeSnat(TUN), 0);
  assert.doesNotMatch(natRules(), /kubelink:/);
  assert.match(natRules(), /someone-else/, 'the foreign rule survives');
});

test('routes into the TUN are added idempotently, re-created, and obsolete own routes removed', async () => {
  const a = prefix('100.64.16.0/20');
  const b = prefix('100.64.32.0/20');
  sh(['ip', '-n', NS, 'route', 'add', '100.64.48.0/20', 'dev', TUN, 'proto', 'static']);
  sh(['ip', '-n', NS, 'route', 'add', '100.96.0.0/11', 'dev', TUN]);

  let result = await net.reconcileRoutes(deviceRoutes(TUN, [a, b]), { protocol: BROKER_ROUTE_PROTOCOL });
  assert.equal(result.add.length, 2);
  assert.deepEqual(result.failed, []);
  result = await net.reconcileRoutes(deviceRoutes(TUN, [a, b]), { protocol: BROKER_ROUTE_PROTOCOL });
  assert.deepEqual({ add: result.add, replace: result.replace, remove: result.remove }, { add: [], replace: [], remove: [] });
  assert.match(routes(), /100\.64\.16\.0\/20 dev kltun0 proto 211/);

  sh(['ip', '-n', NS, 'route', 'del', '100.64.16.0/20', 'dev', TUN, 'proto', '211']);
  result = await net.reconcileRoutes(deviceRoutes(TUN, [a, b]), { protocol: BROKER_ROUTE_PROTOCOL });
  assert.deepEqual(result.add, deviceRoutes(TUN, [a]));
  assert.match(routes(), /100\.64\.16\.0\/20 dev kltun0 proto 211/);

  result = await net.reconcileRoutes(deviceRoutes(TUN, [a]), { protocol: BROKER_ROUTE_PROTOCOL });
  assert.equal(result.remove.length, 1);
  const table = routes();
  assert.doesNotMatch(table, /100\.64\.32\.0\/20/, 'the obsolete own route is gone');
  assert.match(table, /100\.64\.48\.0\/20 dev kltun0 proto static/, 'foreign static route untouched');
  assert.match(table, /100\.96\.0\.0\/11 dev kltun0/, 'foreign boot route untouched');
  assert.match(table, /192\.168\.0\.0\/24 dev kltun0 proto kernel/, 'the kernel mesh route untouched');

  result = await net.reconcileRoutes([], { protocol: BROKER_ROUTE_PROTOCOL });
  assert.doesNotMatch(routes(), /proto 211/);
  assert.match(routes(), /100\.64\.48\.0\/20/);
});

test('a foreign route holding a wanted destination is reported as a conflict and left alone', async () => {
  sh(['ip', '-n', NS, 'route', 'add', '100.64.80.0/20', 'dev', 'eth0']);
  const result = await net.reconcileRoutes(deviceRoutes(TUN, [prefix('100.64.80.0/20'), prefix('100.64.96.0/20')]), { protocol: BROKER_ROUTE_PROTOCOL });
  assert.equal(result.failed.length, 1);
  assert.equal(result.failed[0]!.kind, 'conflict');
  assert.match(routes(), /100\.64\.80\.0\/20 dev eth0 scope link/);
  assert.match(routes(), /100\.64\.96\.0\/20 dev kltun0 proto 211/);
  await net.reconcileRoutes([], { protocol: BROKER_ROUTE_PROTOCOL });
});

test('router routes via a gateway use their own protocol and are replaced when the gateway moves', async () => {
  const mesh = prefix('192.168.5.0/24');
  const remote = prefix('100.64.16.0/20');
  await net.reconcileRoutes(deviceRoutes(TUN, [prefix('100.64.112.0/20')]), { protocol: BROKER_ROUTE_PROTOCOL });
  let result = await net.reconcileRoutes(
    [{ destination: remote, via: ip4('10.250.0.2') }, { destination: mesh, via: ip4('10.250.0.2') }],
    { protocol: ROUTER_ROUTE_PROTOCOL },
  );
  assert.deepEqual(result.failed, []);
  assert.match(routes(), /100\.64\.16\.0\/20 via 10\.250\.0\.2 dev eth0 proto 212/);
  assert.match(routes(), /192\.168\.5\.0\/24 via 10\.250\.0\.2 dev eth0 proto 212/);

  result = await net.reconcileRoutes(
    [{ destination: remote, via: ip4('10.250.0.4') }, { destination: mesh, via: ip4('10.250.0.4') }],
    { protocol: ROUTER_ROUTE_PROTOCOL },
  );
  assert.equal(result.replace.length, 2);
  assert.deepEqual(result.failed, []);
  assert.match(routes(), /100\.64\.16\.0\/20 via 10\.250\.0\.4 dev eth0 proto 212/);
  assert.doesNotMatch(routes(), /10\.250\.0\.2/);
  assert.match(routes(), /100\.64\.112\.0\/20 dev kltun0 proto 211/, "the broker's routes are not the router's business");

  await net.reconcileRoutes([], { protocol: ROUTER_ROUTE_PROTOCOL });
  assert.doesNotMatch(routes(), /proto 212/);
  assert.match(routes(), /proto 211/);
  await net.reconcileRoutes([], { protocol: BROKER_ROUTE_PROTOCOL });
});

test('localAddressIn finds the node address inside the node network', async () => {
  assert.equal(await net.localAddressIn(prefix('10.250.0.0/24')), ip4('10.250.0.3'));
  assert.equal(await net.localAddressIn(prefix('10.251.0.0/24')), undefined);
});

test("the broker's TUN: set up, routes reconciled with the unreachable service CIDR, a conflict reported, repairs with iptables, torn down", async () => {
  // Its own GatewayNet: tearDownTun closes the netlink socket (the data plane's last use).
  const tunNet = new GatewayNet({ netns: NS });
  const tun = { ifname: TUN, linkAddress: { address: ip4('192.168.0.11'), prefixLength: 24 }, serviceCidr: prefix('100.64.0.0/20'), mtu: 1400, dnsPort: 8053 };
  await tunNet.setUpTun(tun);
  assert.equal(JSON.parse(sh(['ip', '-n', NS, '-j', 'link', 'show', 'dev', TUN]))[0].mtu, 1400);
  assert.match(natRules(), /kubelink:kltun0.*--to-source 192\.168\.0\.11/);
  assert.match(inNs('iptables', '-S', 'INPUT'), /KUBELINK-IN-kltun0/);
  // The guard opens exactly the mesh DNS port on the cluster address (peers' brokers ask it
  // for our MeshService names), UDP and TCP, before the rejects; and reads back as written.
  assert.deepEqual(inNs('iptables', '-S', 'KUBELINK-IN-kltun0').trim().split('\n').slice(1), [
    '-A KUBELINK-IN-kltun0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j RETURN',
    '-A KUBELINK-IN-kltun0 -p icmp -m icmp --icmp-type 8 -j RETURN',
    '-A KUBELINK-IN-kltun0 -d 192.168.0.11/32 -p udp -m udp --dport 8053 -j RETURN',
    '-A KUBELINK-IN-kltun0 -d 192.168.0.11/32 -p tcp -m tcp --dport 8053 -j RETURN',
    '-A KUBELINK-IN-kltun0 -p tcp -j REJECT --reject-with tcp-reset',
    '-A KUBELINK-IN-kltun0 -j REJECT --reject-with icmp-port-unreachable',
  ]);
  assert.equal(await tunNet.ensureInboundGuard(TUN, { address: ip4('192.168.0.11'), port: 8053 }), 'present', 'nothing to repair');
  assert.equal(await tunNet.ensureInboundGuard(TUN, { address: ip4('192.168.0.11'), port: 8054 }), 'created', 'another port: rewritten');
  assert.equal(await tunNet.ensureInboundGuard(TUN), 'created');
  assert.doesNotMatch(inNs('iptables', '-S', 'KUBELINK-IN-kltun0'), /--dport/, 'without a DNS port nothing is open');
  assert.equal(await tunNet.ensureInboundGuard(TUN, { address: ip4('192.168.0.11'), port: 8053 }), 'created');

  sh(['ip', '-n', NS, 'route', 'add', '100.64.112.0/20', 'dev', 'eth0']);
  const { failed } = await tunNet.reconcileTun(tun, [prefix('100.64.16.0/20'), prefix('100.64.112.0/20')], { iptables: false });
  assert.deepEqual(failed, [prefix('100.64.112.0/20')], 'only the destination held by a foreign route is unrouted');
  assert.match(routes(), /100\.64\.16\.0\/20 dev kltun0 proto 211/);
  assert.match(routes(), /unreachable 100\.64\.0\.0\/20 proto 211/);

  inNs('iptables', '-t', 'nat', '-D', 'POSTROUTING', '-o', TUN, '-m', 'comment', '--comment', `kubelink:${TUN}`, '-j', 'SNAT', '--to-source', '192.168.0.11');
  await tunNet.reconcileTun(tun, [prefix('100.64.16.0/20')], { iptables: false });
  assert.doesNotMatch(natRules(), /kubelink:kltun0/, 'without iptables the rules are not checked');
  await tunNet.reconcileTun(tun, [prefix('100.64.16.0/20')], { iptables: true });
  assert.match(natRules(), /kubelink:kltun0/, 'the periodic repair re-creates the SNAT rule');

  await tunNet.tearDownTun(tun);
  assert.doesNotMatch(natRules(), /kubelink:kltun0/);
  assert.doesNotMatch(inNs('iptables', '-S', 'INPUT'), /KUBELINK-IN/);
  assert.doesNotMatch(routes(), /proto 211/);
  assert.match(routes(), /100\.64\.112\.0\/20 dev eth0/, 'the foreign route survives');
  sh(['ip', '-n', NS, 'route', 'del', '100.64.112.0/20', 'dev', 'eth0']);
});
