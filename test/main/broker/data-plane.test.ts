// A DataPlane built from fakes: links in, status out, capacity and the served-links filter,
// the order parts start and stop in, and what a failed start leaves behind (nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataPlane, type DataPlaneDatapath, type DataPlaneParts, type DataPlaneSettings } from '../../../src/main/broker/data-plane.js';
import { DEFAULT_DIAL_JITTER_MS } from '../../../src/main/broker/dial-pacer.js';
import type { ShardInitTemplate, ShardOwner } from '../../../src/main/broker/shard-supervisor.js';
import type { TlsSource } from '../../../src/main/certs/tls-source.js';
import { Counter, CounterBlocks } from '../../../src/shared/counters.js';
import { silentLogger } from '../../../src/shared/log.js';
import type { RouteEntry } from '../../../src/shared/route-table.js';
import type { MainToShard, TlsMaterial } from '../../../src/shared/shard-protocol.js';
import type { Ipv4Prefix, KubeLinkResource, KubeLinkStatus, LinkSource } from '../../../src/shared/types.js';
import { formatPrefix } from '../../../src/shared/cidr.js';
import { DemandWords } from '../../../src/shared/demand-words.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { kubeLink } from '../../fixtures/kubelink-fixtures.js';
import { iface, ip4, prefix } from '../../helpers/ipv4-literals.js';

const MATERIAL: TlsMaterial = { cert: 'cert', key: 'key', ca: 'ca' };

function settings(over: Partial<DataPlaneSettings> = {}): DataPlaneSettings {
  return {
    linkAddress: iface('192.168.0.11/24'),
    serviceCidr: prefix('100.64.0.0/20'),
    clusterDns: { dnsIp: ip4('100.64.0.53'), domain: 'c1.example' },
    nodeIp: ip4('10.250.0.2'),
    servedLinks: 'all',
    brokerPort: 0,
    mtu: 1400,
    logLevel: 'error',
    demandCheckMs: 250,
    reconcileMs: 10_000,
    maxPendingPerAddress: 16,
    maxPendingHandshakes: 256,
    ...over,
  };
}

/** Fakes for every part, recording what the data plane does with them. */
function fakes(options: { capacity?: { links: number; routeEntries: number }; failListen?: boolean } = {}) {
  const events: string[] = [];
  const statuses = new Map<string, KubeLinkStatus>();
  const shardMessages: { shard: number; msg: MainToShard }[] = [];
  const routeDestinations: string[][] = [];
  const published: RouteEntry[][] = [];
  let deliver: ((resources: KubeLinkResource[]) => void) | undefined;
  let owner: ShardOwner | undefined;
  let demandChecks = 0;
  const demandTaken: number[][] = [];
  /** The real demand words: the test marks links as the TUN reader would. */
  const demand = new DemandWords(DemandWords.allocate(16));
  let tlsChange: ((m: TlsMaterial) => void) | undefined;
  const initFors: ((shard: number) => ShardInitTemplate)[] = [];
  /** The injectable route step: hold() delays every route reconcile until release(); failing destinations are reported not installed. */
  const routeStep = {
    failing: new Set<string>(),
    gate: undefined as { promise: Promise<void>; release: () => void } | undefined,
    running: 0,
    maxRunning: 0,
    hold(): void {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.gate = { promise, release };
    },
    release(): void {
      const gate = this.gate;
      this.gate = undefined;
      gate?.release();
    },
    async wait(): Promise<void> {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      try {
        await this.gate?.promise;
      } finally {
        this.running--;
      }
    },
  };

  const counterBlocks = new CounterBlocks(CounterBlocks.allocate(3));
  const tls: TlsSource = {
    start: async (onChange) => {
      events.push('tls.start');
      tlsChange = onChange;
      return MATERIAL;
    },
    current: () => MATERIAL,
    stop: async () => void events.push('tls.stop'),
  };
  const links: LinkSource = {
    start: async (onChange) => {
      events.push('links.start');
      deliver = onChange;
    },
    stop: async () => void events.push('links.stop'),
    reportStatus: async (name, status) => void statuses.set(name, status),
  };
  const datapath: DataPlaneDatapath = {
    capacity: options.capacity ?? { links: 16, routeEntries: 128 },
    healthy: true,
    openTun: () => (events.push('datapath.openTun'), 'kubelink0'),
    startThreads: async () => void events.push('datapath.startThreads'),
    shardRings: () => ({ toTunnelRing: new SharedArrayBuffer(8), tunFd: -1, counters: new SharedArrayBuffer(8), counterBlock: 0 }),
    metricsSource: () => ({ counterBlocks, shardBlocks: [2], ringDrops: () => 0, ringFill: () => [] }),
    demandRung: () => demand.rung(),
    takeDemand: () => {
      demandChecks++;
      const taken = demand.take();
      demandTaken.push(taken);
      return taken;
    },
    publishRoutes: (entries) => void published.push(entries),
    setLinkShard: () => undefined,
    stop: async () => {
      demand.wake();
      events.push('datapath.stop');
    },
  };
  const parts: DataPlaneParts = {
    clock: new FakeClock(),
    tls,
    links,
    datapath,
    network: {
      setUpTun: async (tun) => void events.push(`network.setUp ${tun.ifname}`),
      reconcileTun: async (_tun, destinations: readonly Ipv4Prefix[]) => {
        routeDestinations.push(destinations.map(formatPrefix));
        await routeStep.wait();
        return { failed: destinations.filter((d) => routeStep.failing.has(formatPrefix(d))) };
      },
      localAddressIn: async () => undefined,
      tearDownTun: async () => void events.push('network.tearDown'),
    },
    shards: (initFor) => {
      initFors.push(initFor);
      return {
        start: (o) => {
          events.push('shards.start');
          owner = o;
        },
        stop: async () => void events.push('shards.stop'),
        send: (shard, msg) => void shardMessages.push({ shard, msg }),
        broadcast: (msg) => void shardMessages.push({ shard: -1, msg }),
        assign: () => 0,
        release: () => undefined,
      };
    },
    listener: () => ({
      listen: async () => {
        events.push('listener.listen');
        if (options.failListen) throw new Error('EADDRINUSE');
        return 8088;
      },
      close: async () => void events.push('listener.close'),
      refused: { 'pending-total': 0, 'pending-per-address': 0 },
    }),
  };
  return {
    parts,
    clock: parts.clock as FakeClock,
    events,
    statuses,
    shardMessages,
    routeDestinations,
    routeStep,
    published,
    initFors,
    deliver: (resources: KubeLinkResource[]) => deliver!(resources),
    owner: () => owner!,
    demandChecks: () => demandChecks,
    demand,
    demandTaken,
    counterBlocks,
    tlsChange: (m: TlsMaterial) => tlsChange!(m),
    dials: () => shardMessages.filter((m) => m.msg.type === 'dial').map((m) => (m.msg as Extract<MainToShard, { type: 'dial' }>).host),
  };
}

/** Lets the event loop run (an Atomics.waitAsync resolves in a task of its own). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Runs the event loop until `condition` holds; fails after a bounded number of turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.ok(condition(), 'condition not reached');
}

/** Runs `body` against a started DataPlane built from `f`, and stops it. */
async function running(f: ReturnType<typeof fakes>, over: Partial<DataPlaneSettings>, body: (plane: DataPlane) => Promise<void>): Promise<void> {
  const plane = new DataPlane(settings(over), f.parts, silentLogger, 'broker-0');
  await plane.start();
  try {
    await body(plane);
  } finally {
    await plane.stop();
  }
}

const C2 = kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24');
const C3 = kubeLink('c3', '100.64.32.0/20', '192.168.0.13/24');
const C4 = kubeLink('c4', '100.64.48.0/20', '192.168.0.14/24');

test('parts start in dependency order and stop in reverse', async () => {
  const f = fakes();
  const plane = new DataPlane(settings(), f.parts, silentLogger, 'broker-0');
  await plane.start();
  assert.deepEqual(f.events, ['tls.start', 'datapath.openTun', 'network.setUp kubelink0', 'datapath.startThreads', 'shards.start', 'listener.listen', 'links.start']);
  f.events.length = 0;
  await plane.stop();
  assert.deepEqual(f.events, ['links.stop', 'listener.close', 'shards.stop', 'network.tearDown', 'datapath.stop', 'tls.stop']);
});

test('links in: valid links are dialed and routed, invalid ones get status Invalid with the gateway', async () => {
  const f = fakes();
  await running(f, {}, async (plane) => {
    const bad = kubeLink('bad', '100.64.0.0/24', '192.168.0.15/24'); // the local service network
    f.deliver([C2, bad, C3]);
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS); // fresh dials are spread over this window
    assert.deepEqual(plane.servedLinks().map((l) => l.name), ['c2', 'c3']);
    assert.deepEqual(f.dials().sort(), ['kubelink.c2.example.com', 'kubelink.c3.example.com']);
    assert.deepEqual(f.routeDestinations.at(-1), ['100.64.16.0/20', '100.64.32.0/20']);
    assert.equal(f.statuses.get('bad')?.state, 'Invalid');
    assert.match(f.statuses.get('bad')!.message!, /overlaps the local service network/);
    assert.equal(f.statuses.get('bad')?.gateway, '10.250.0.2');
    assert.deepEqual(f.statuses.get('c2'), { state: 'Down', message: 'connecting to kubelink.c2.example.com:8088', gateway: '10.250.0.2' });
  });
});

test('status out: a tunnel established by a shard reports the link Up', async () => {
  const f = fakes();
  await running(f, {}, async (plane) => {
    f.deliver([C2]);
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS); // fresh dials are spread over this window
    const dial = f.shardMessages.find((m) => m.msg.type === 'dial')!.msg as Extract<MainToShard, { type: 'dial' }>;
    f.owner().onShardMessage(0, { type: 'established', connId: dial.connId, linkId: dial.linkId, dialed: true, peerVersion: 1 });
    assert.equal(f.statuses.get('c2')?.state, 'Up');
  });
});

test('every statusStatsIntervalMs each link\'s RTT and bytes go into its status, with its state; without the setting never', async () => {
  const at = (clock: FakeClock) => new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const f = fakes();
  await running(f, { statusStatsIntervalMs: 60_000 }, async () => {
    f.deliver([C2]);
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS);
    const dial = f.shardMessages.find((m) => m.msg.type === 'dial')!.msg as Extract<MainToShard, { type: 'dial' }>;
    f.owner().onShardMessage(0, { type: 'established', connId: dial.connId, linkId: dial.linkId, dialed: true, peerVersion: 1 });
    assert.equal(f.statuses.get('c2')?.statsTime, undefined, 'no stats before the first interval');
    await f.clock.advance(60_000);
    const first = f.statuses.get('c2')!;
    assert.equal(first.state, 'Up');
    assert.equal(first.gateway, '10.250.0.2');
    assert.equal(first.statsTime, at(f.clock));
    assert.equal(first.rxBytes, 0);
    assert.equal(first.txBytes, 0);
    await f.clock.advance(60_000);
    assert.equal(f.statuses.get('c2')!.statsTime, at(f.clock), 'refreshed one interval later');
  });
  const g = fakes();
  await running(g, {}, async () => {
    g.deliver([C2]);
    await g.clock.advance(10 * 60_000);
    assert.equal(g.statuses.get('c2')?.statsTime, undefined);
  });
});

test('the served-links filter: links for other brokers are neither dialed nor Invalid', async () => {
  const f = fakes();
  await running(f, { servedLinks: ['c3'] }, async (plane) => {
    f.deliver([C2, C3]);
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS); // fresh dials are spread over this window
    assert.deepEqual(plane.servedLinks().map((l) => l.name), ['c3']);
    assert.deepEqual(f.dials(), ['kubelink.c3.example.com']);
    assert.equal(f.statuses.has('c2'), false, 'c2 belongs to another broker: this one writes no status for it');
  });
});

test('capacity: one link too many is Invalid and never displaces a link already served', async () => {
  const f = fakes({ capacity: { links: 2, routeEntries: 128 } });
  await running(f, {}, async (plane) => {
    f.deliver([C3, C4]);
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS); // fresh dials are spread over this window
    f.deliver([C2, C3, C4]); // c2 sorts first but comes last
    await f.clock.advance(DEFAULT_DIAL_JITTER_MS); // fresh dials are spread over this window
    assert.deepEqual(plane.servedLinks().map((l) => l.name), ['c3', 'c4']);
    assert.deepEqual(f.statuses.get('c2'), { state: 'Invalid', message: 'this broker serves at most 2 links', gateway: '10.250.0.2' });
    const metrics = await plane.metrics.render();
    assert.match(metrics.body, /^kubelink_links\{state="Invalid"\} 1$/m);
    f.counterBlocks.block(2)[Counter.tunnelTxPackets] = 7; // shard 0's block, as its worker would
    assert.match((await plane.metrics.render()).body, /^kubelink_shard_packets_total\{shard="0",direction="tx"\} 7$/m);
  });
});

test('demand is taken only when the doorbell rings, then not again for demandCheckMs; new certificates reach the shards', async () => {
  const f = fakes();
  await running(f, {}, async () => {
    await f.clock.advance(1_000);
    assert.equal(f.demandChecks(), 0, 'nothing polls the demand words');

    f.demand.mark(3);
    await until(() => f.demandChecks() === 1);
    f.demand.mark(3); // the link is wanted again during the pause
    f.demand.mark(4);
    await f.clock.advance(249);
    await settle();
    assert.equal(f.demandChecks(), 1, 'packets during the pause do not wake the data plane');
    await f.clock.advance(1);
    await until(() => f.demandChecks() === 2);
    await f.clock.advance(1_000);
    assert.equal(f.demandChecks(), 2, 'one take handled both links');
    assert.deepEqual(f.demandTaken, [[3], [3, 4]]);

    f.tlsChange({ ...MATERIAL, cert: 'new' });
    assert.ok(f.shardMessages.some((m) => m.shard === -1 && m.msg.type === 'tls'));
    assert.equal(f.initFors.length, 1);
    assert.equal(f.initFors[0]!(0).tls.cert, 'cert', 'a (re)started shard gets the material the TLS source holds');
  });
});

test('a failed start stops what had started and leaves no timer', async () => {
  const f = fakes({ failListen: true });
  const plane = new DataPlane(settings(), f.parts, silentLogger, 'broker-0');
  await assert.rejects(plane.start(), /EADDRINUSE/);
  assert.deepEqual(f.events.slice(-4), ['shards.stop', 'network.tearDown', 'datapath.stop', 'tls.stop']);
  assert.equal(f.clock.pendingTimers, 0);
});

test('the mesh DNS starts after the gateway networking, learns the served links and their states (with the announced DNS and mesh DNS port) and the MeshServices, and stops before it', async () => {
  const f = fakes();
  const seen: string[] = [];
  f.parts.dns = () => ({
    start: async () => (f.events.push('dns.start'), 8053),
    setLinks: (links) => void seen.push(`links ${links.map((l) => l.name).join(',')}`),
    setLinkStatus: (name, state, announced, meshDnsPort) => void seen.push(`${name} ${state} ${announced ? `${announced.dnsIp}/${announced.domain}` : '-'} port ${meshDnsPort ?? '-'}`),
    setMeshServices: (entries) => void seen.push(`msvc ${entries.map((e) => `${e.namespace}/${e.name}=${e.address}`).join(',')}`),
    stop: async () => void f.events.push('dns.stop'),
  });
  f.parts.meshServices = (_ifname, _publish, publishNames) => ({
    published: () => [],
    setLinks: () => undefined,
    start: async () => publishNames([{ namespace: 'default', name: 'echo', address: '192.168.0.100', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }]),
    reconcile: async () => undefined,
    stop: async () => undefined,
  });
  const plane = new DataPlane({ ...settings(), dnsPort: 8053 }, f.parts, silentLogger, 'broker-0');
  await plane.start();
  assert.ok(f.events.indexOf('dns.start') > f.events.indexOf('network.setUp kubelink0'), f.events.join());
  assert.deepEqual(seen.splice(0), ['msvc default/echo=192.168.0.100'], 'the MeshService controller feeds the DNS its names');
  assert.deepEqual(f.initFors[0]!(0).local.dns, { dnsIp: ip4('100.64.0.53'), domain: 'c1.example' }, 'the shards announce this cluster\'s DNS (settings.clusterDns) in the hello');
  assert.equal(f.initFors[0]!(0).local.meshDnsPort, 8053, 'and the port of the mesh DNS (--dns-port)');
  f.deliver([C2, kubeLink('bad', '100.64.0.0/24', '192.168.0.15/24')]);
  await f.clock.advance(DEFAULT_DIAL_JITTER_MS);
  const dial = f.shardMessages.find((m) => m.msg.type === 'dial')!.msg as Extract<MainToShard, { type: 'dial' }>;
  f.owner().onShardMessage(0, { type: 'established', connId: dial.connId, linkId: dial.linkId, dialed: true, peerVersion: 1, peerDns: { dnsIp: 7, domain: 'c2.local' }, peerMeshDnsPort: 9053 });
  assert.deepEqual(seen, ['links c2', 'c2 Down - port -', 'c2 Up 7/c2.local port 9053'], "the peer's announced port reaches the DNS with its link");
  f.events.length = 0;
  await plane.stop();
  assert.ok(f.events.indexOf('dns.stop') < f.events.indexOf('network.tearDown'), f.events.join());
});

/** Serves `links`, lets their dials out, and establishes every dialed connection. */
async function establishAll(f: ReturnType<typeof fakes>, links: KubeLinkResource[]): Promise<void> {
  f.deliver(links);
  await f.clock.advance(DEFAULT_DIAL_JITTER_MS);
  for (const m of f.shardMessages.filter((x) => x.msg.type === 'dial')) {
    const dial = m.msg as Extract<MainToShard, { type: 'dial' }>;
    f.owner().onShardMessage(0, { type: 'established', connId: dial.connId, linkId: dial.linkId, dialed: true, peerVersion: 1 });
  }
}

test('Up means traffic flows: an established tunnel is not Up while its route is still being installed, and is Up once it is', async () => {
  const f = fakes();
  await running(f, {}, async (plane) => {
    f.routeStep.hold();
    await establishAll(f, [C2]);
    assert.equal(f.statuses.get('c2')?.state, 'Down');
    assert.match(f.statuses.get('c2')!.message!, /tunnel to .* up; waiting for its route into the TUN/);
    const metrics = (await plane.metrics.render()).body;
    assert.match(metrics, /^kubelink_link_up\{link="c2"\} 0$/m, 'the metric agrees with the status');
    f.routeStep.release();
    await f.clock.advance(0);
    assert.equal(f.statuses.get('c2')?.state, 'Up');
    assert.match((await plane.metrics.render()).body, /^kubelink_link_up\{link="c2"\} 1$/m);
  });
});

test('a route that cannot be installed keeps its link non-Up; the periodic reconcile that installs it brings it Up', async () => {
  const f = fakes();
  await running(f, { reconcileMs: 10_000 }, async () => {
    f.routeStep.failing.add('100.64.16.0/20');
    await establishAll(f, [C2, C3]);
    await f.clock.advance(0);
    assert.equal(f.statuses.get('c2')?.state, 'Down', 'its service CIDR has no route');
    assert.equal(f.statuses.get('c3')?.state, 'Up', 'the other link is not held back');
    f.routeStep.failing.clear();
    await f.clock.advance(10_000);
    assert.equal(f.statuses.get('c2')?.state, 'Up');
  });
});

test('route reconciles run one at a time and the latest link set wins', async () => {
  const f = fakes();
  await running(f, {}, async () => {
    f.routeStep.hold();
    f.deliver([C2]);
    await f.clock.advance(0);
    f.deliver([C2, C3]);
    f.deliver([C2, C3, C4]);
    await f.clock.advance(0);
    f.routeStep.release();
    await f.clock.advance(0);
    assert.equal(f.routeStep.maxRunning, 1, 'never two reconciles at once');
    assert.deepEqual(f.routeDestinations.map((d) => d.filter((x) => x.startsWith('100.64')).length), [1, 3], 'the held run, then one run with the latest links');
  });
});

test('without a mesh DNS (--dns-port 0) the shards announce mesh DNS port 0, so peers answer its MeshService names NXDOMAIN without asking', async () => {
  const f = fakes();
  f.parts.dns = undefined;
  const plane = new DataPlane({ ...settings(), dnsPort: 0 }, f.parts, silentLogger, 'broker-0');
  await plane.start();
  assert.equal(f.initFors[0]!(0).local.meshDnsPort, 0);
  await plane.stop();
});
