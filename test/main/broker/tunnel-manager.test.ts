import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunnelManager, type LinkStatusReport, type ShardChannel, type TunnelDatapath } from '../../../src/main/broker/tunnel-manager.js';
import { createLogger, silentLogger } from '../../../src/shared/log.js';
import type { BackoffOptions } from '../../../src/shared/backoff.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import type { MainToShard } from '../../../src/shared/shard-protocol.js';
import type { ValidLink } from '../../../src/shared/types.js';

const LOCAL = 0xc0a8000b; // 192.168.0.11
const PEER = 0xc0a8000c; // 192.168.0.12

function link(name: string, clusterAddress = PEER): ValidLink {
  return {
    name,
    serviceCidr: { network: 0x64401000, prefixLength: 20 },
    egress: [],
    clusterAddress,
    meshPrefixLength: 24,
    endpointHost: `${name}.example`,
    endpointPort: 8088,
    dns: { omitPropagation: false },
    spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: `${name}.example:8088` },
  };
}

function harness(backoff: Partial<BackoffOptions> = { initialMs: 10, maxMs: 20, random: () => 0 }, log = silentLogger) {
  const sent: { shard: number; msg: MainToShard }[] = [];
  const linkShard = new Map<number, number>();
  const statuses: LinkStatusReport[] = [];
  let next = 0;
  const shards: ShardChannel = {
    send: (shard, msg) => sent.push({ shard, msg }),
    broadcast: (msg) => sent.push({ shard: -1, msg }),
    assign: () => next++ % 2,
    release: () => undefined,
  };
  const datapath: TunnelDatapath = {
    publishRoutes: () => undefined,
    setLinkShard: (linkId, shard) => linkShard.set(linkId, shard),
  };
  const clock = new FakeClock(0);
  const manager = new TunnelManager(
    { localClusterAddress: LOCAL, maxLinks: 16, staleAfterMs: 8000, backoff, demandRedialMs: 2000, clock, random: () => 0 },
    shards,
    datapath,
    (r) => statuses.push(r),
    log,
  );
  const ofType = <T extends MainToShard['type']>(type: T) => sent.filter((s) => s.msg.type === type) as { shard: number; msg: Extract<MainToShard, { type: T }> }[];
  return { manager, sent, linkShard, statuses, ofType, clock };
}

/** Serves link b, lets the manager dial it and, unless told otherwise, establishes that connection. */
async function servedLink(h: ReturnType<typeof harness>, establish = true) {
  h.manager.setLinks([link('b')]);
  h.manager.setRouted(new Set(['b']));
  await h.clock.advance(0);
  const dial = h.ofType('dial')[0]!;
  if (establish) h.manager.onShardMessage(dial.shard, { type: 'established', connId: dial.msg.connId, linkId: dial.msg.linkId, dialed: true, peerVersion: 1 });
  return dial;
}

test('a new link is dialed at once and reported Up when its tunnel is established', async () => {
  const h = harness();
  const dial = await servedLink(h);
  assert.equal(dial.msg.host, 'b.example');
  assert.equal(h.ofType('activate').length, 1);
  assert.equal(h.linkShard.get(dial.msg.linkId), dial.shard);
  assert.equal(h.statuses.at(-1)?.state, 'Up');
  h.manager.stop();
});

test('a tunnel that closes takes the link Down, unpublishes its shard and is dialed again after backoff', async () => {
  const h = harness();
  const dial = await servedLink(h);
  h.manager.onShardMessage(dial.shard, { type: 'closed', connId: dial.msg.connId, linkId: dial.msg.linkId, reason: 'peer went away', handshakeFailure: false });
  assert.equal(h.statuses.at(-1)?.state, 'Down');
  assert.equal(h.statuses.at(-1)?.message, 'peer went away');
  assert.equal(h.linkShard.get(dial.msg.linkId), -1);
  await h.clock.advance(40);
  assert.equal(h.ofType('dial').length, 2, 'redialed after the backoff');
  assert.equal(h.manager.snapshot()[0]?.reconnects, 1);
  h.manager.stop();
});

test('a handshake failure reports Error with the reason', async () => {
  const h = harness();
  const dial = await servedLink(h, false);
  h.manager.onShardMessage(dial.shard, { type: 'closed', connId: dial.msg.connId, linkId: null, reason: 'certificate has expired', handshakeFailure: true });
  assert.deepEqual(h.statuses.at(-1), { name: 'b', state: 'Error', message: 'certificate has expired' });
  assert.equal(h.manager.handshakeFailures, 1);
  h.manager.stop();
});

test('when the shard carrying a link dies the link goes Down and is dialed again', async () => {
  const h = harness();
  const dial = await servedLink(h);
  h.manager.onShardLost(dial.shard);
  assert.equal(h.statuses.at(-1)?.state, 'Down');
  await h.clock.advance(40);
  assert.equal(h.ofType('dial').length, 2);
  h.manager.stop();
});

test('the shards learn a link before they are asked to dial it, also when the pacer starts the dial at once', async () => {
  // random () => 0: zero jitter, so the pacer starts each fresh dial inside setLinks. A shard
  // told to dial before it knows the link finds no link for the peer's certificate when the
  // handshake ends first (issue 8: one handshake failure in a 126-link re-add).
  const h = harness();
  const knownBefore = (index: number, linkId: number, host: string) =>
    h.sent.slice(0, index).some((s) => s.msg.type === 'links' && s.msg.links.some((l) => l.linkId === linkId && l.endpointHost === host));
  h.manager.setLinks([link('b'), link('c'), link('d')]);
  const dials = h.sent.map((s, i) => ({ s, i })).filter(({ s }) => s.msg.type === 'dial');
  assert.equal(dials.length, 3, 'all three dialed at once');
  for (const { s, i } of dials) {
    const dial = s.msg as Extract<MainToShard, { type: 'dial' }>;
    assert.ok(knownBefore(i, dial.linkId, dial.host), `the shards knew link ${dial.linkId} (${dial.host}) before its dial`);
  }
  // A link waiting out its backoff whose endpoint changes is dialed at once, and only after
  // the shards have the new endpoint.
  const b = dials[0]!.s.msg as Extract<MainToShard, { type: 'dial' }>;
  h.manager.onShardMessage(dials[0]!.s.shard, { type: 'closed', connId: b.connId, linkId: null, reason: 'gone', handshakeFailure: true });
  const moved = { ...link('b'), endpointHost: 'b2.example', spec: { ...link('b').spec, endpoint: 'b2.example:8088' } };
  h.sent.length = 0;
  h.manager.setLinks([moved, link('c'), link('d')]);
  const redial = h.sent.findIndex((s) => s.msg.type === 'dial' && s.msg.host === 'b2.example');
  assert.ok(redial >= 0, 'b dialed at its new endpoint');
  assert.ok(knownBefore(redial, (h.sent[redial]!.msg as Extract<MainToShard, { type: 'dial' }>).linkId, 'b2.example'));
  h.manager.stop();
});

test('removing a link closes its connection and unpublishes it', async () => {
  const h = harness();
  const dial = await servedLink(h);
  h.manager.setLinks([]);
  assert.equal(h.ofType('close').length, 1);
  assert.equal(h.linkShard.get(dial.msg.linkId), -1);
  assert.deepEqual(h.manager.snapshot(), []);
  h.manager.stop();
});

test('packets waiting for a down link dial it without waiting out the backoff, but not more often than the demand interval', async () => {
  const h = harness({ initialMs: 10_000, maxMs: 10_000, random: () => 0 });
  const dial = await servedLink(h, false);
  h.manager.onShardMessage(dial.shard, { type: 'closed', connId: dial.msg.connId, linkId: null, reason: 'refused', handshakeFailure: false });
  h.manager.onDemand([dial.msg.linkId]);
  assert.equal(h.ofType('dial').length, 1, 'dialed just now: demand waits for the interval');
  await h.clock.advance(2000);
  assert.equal(h.ofType('dial').length, 1, 'the backoff (5 s) has not run out');
  h.manager.onDemand([dial.msg.linkId]);
  assert.equal(h.ofType('dial').length, 2, 'demand dials once the interval has passed');
  const second = h.ofType('dial')[1]!;
  h.manager.onShardMessage(second.shard, { type: 'closed', connId: second.msg.connId, linkId: null, reason: 'refused', handshakeFailure: false });
  h.manager.onDemand([dial.msg.linkId]);
  assert.equal(h.ofType('dial').length, 2, 'a peer that stays down is not dialed in a loop');
  h.manager.stop();
});

test("a removed link's id is not given to a new link while a connection of the old one is still open", async () => {
  const h = harness();
  const dial = await servedLink(h);
  h.manager.setLinks([link('c', 0xc0a8000d)]);
  await h.clock.advance(5);
  const newDial = h.ofType('dial').find((d) => d.msg.host === 'c.example')!;
  assert.notEqual(newDial.msg.linkId, dial.msg.linkId, 'the old id is still held by the closing connection');
  // The old connection's late report does not touch the new link.
  h.manager.onShardMessage(dial.shard, { type: 'health', connId: dial.msg.connId, linkId: dial.msg.linkId, rttMs: 1, lastReceiveAgeMs: 0, traffic: { txPackets: 9, txBytes: 9, rxPackets: 9, rxBytes: 9 } });
  assert.deepEqual(h.manager.snapshot().map((l) => [l.name, l.traffic.txPackets]), [['c', 0]]);
  h.manager.stop();
});

test('an accepted connection of a link that is no longer served is closed', () => {
  const h = harness();
  h.manager.adopt(42, '10.0.0.1:5000');
  const [adopt] = h.ofType('adopt');
  h.manager.onShardMessage(adopt!.shard, { type: 'established', connId: adopt!.msg.connId, linkId: 7, dialed: false, peerVersion: 1 });
  assert.equal(h.ofType('close').length, 1);
  h.manager.stop();
});

test("a link's traffic adds up the reports of all its connections, each report counted once", async () => {
  const h = harness();
  const dial = await servedLink(h);
  const { connId, linkId } = dial.msg;
  const health = (traffic: [number, number, number, number]) =>
    h.manager.onShardMessage(dial.shard, { type: 'health', connId, linkId, rttMs: 1, lastReceiveAgeMs: 0, traffic: { txPackets: traffic[0], txBytes: traffic[1], rxPackets: traffic[2], rxBytes: traffic[3] } });
  health([1, 100, 2, 200]);
  health([3, 300, 4, 400]);
  assert.deepEqual(h.manager.snapshot()[0]?.traffic, { txPackets: 3, txBytes: 300, rxPackets: 4, rxBytes: 400 });
  h.manager.onShardMessage(dial.shard, { type: 'closed', connId, linkId, reason: 'gone', handshakeFailure: false, traffic: { txPackets: 5, txBytes: 500, rxPackets: 6, rxBytes: 600 } });
  await h.clock.advance(40);
  const redial = h.ofType('dial')[1]!;
  h.manager.onShardMessage(redial.shard, { type: 'established', connId: redial.msg.connId, linkId, dialed: true, peerVersion: 1 });
  h.manager.onShardMessage(redial.shard, { type: 'health', connId: redial.msg.connId, linkId, rttMs: 1, lastReceiveAgeMs: 0, traffic: { txPackets: 1, txBytes: 10, rxPackets: 1, rxBytes: 10 } });
  assert.deepEqual(h.manager.snapshot()[0]?.traffic, { txPackets: 6, txBytes: 510, rxPackets: 7, rxBytes: 610 });
  h.manager.stop();
});

test('a tunnel that establishes and at once closes again backs off further each time; a keepalive round trip resets the backoff', async () => {
  const h = harness();
  const manager = new TunnelManager(
    { localClusterAddress: LOCAL, maxLinks: 16, staleAfterMs: 8000, backoff: { initialMs: 40, maxMs: 60_000, factor: 2, random: () => 0 }, clock: h.clock, random: () => 0 },
    { send: (shard, msg) => h.sent.push({ shard, msg }), broadcast: () => undefined, assign: () => 0, release: () => undefined },
    { publishRoutes: () => undefined, setLinkShard: () => undefined },
    () => undefined,
    silentLogger,
  );
  manager.setLinks([link('b')]);
  await h.clock.advance(0);
  const dial = h.ofType('dial')[0]!;
  const linkId = dial.msg.linkId;
  /** The peer takes a connection through the hello and then drops it (e.g. it refuses our cluster address). */
  const flap = (connId: number, dialed: boolean) => {
    manager.onShardMessage(0, { type: 'established', connId, linkId, dialed, peerVersion: 1 });
    manager.onShardMessage(0, { type: 'closed', connId, linkId, reason: 'refused after hello', handshakeFailure: false });
  };
  flap(dial.msg.connId, true);
  for (let i = 0; i < 4; i++) {
    // Accepted connections, while our redial waits out its backoff.
    manager.adopt(100 + i, 'peer');
    flap(h.ofType('adopt').at(-1)!.msg.connId, false);
  }
  const dials = h.ofType('dial').length;
  await h.clock.advance(60);
  assert.equal(h.ofType('dial').length, dials, 'after 5 flaps the redial waits 40 * 2^4 / 2 ms, not 20 ms');

  // A connection whose keepalive came back resets the backoff: its loss is redialed at once.
  manager.adopt(999, 'peer');
  const healthy = h.ofType('adopt').at(-1)!.msg.connId;
  manager.onShardMessage(0, { type: 'established', connId: healthy, linkId, dialed: false, peerVersion: 1 });
  manager.onShardMessage(0, { type: 'health', connId: healthy, linkId, rttMs: 1, lastReceiveAgeMs: 10, traffic: { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 } });
  manager.onShardMessage(0, { type: 'closed', connId: healthy, linkId, reason: 'peer restarted', handshakeFailure: false });
  await h.clock.advance(60);
  assert.equal(h.ofType('dial').length, dials + 1, 'redialed after initialMs / 2');
  manager.stop();
});

test('accepted connections count as pending handshakes until they name their link', async () => {
  const h = harness();
  await servedLink(h);
  h.manager.adopt(40, '10.0.0.1:5000');
  h.manager.adopt(41, '10.0.0.2:5000');
  assert.equal(h.manager.pendingAccepts(), 2, 'the dialed connection is not counted');
  const [first] = h.ofType('adopt');
  h.manager.onShardMessage(first!.shard, { type: 'closed', connId: first!.msg.connId, linkId: null, reason: 'bad certificate', handshakeFailure: true });
  assert.equal(h.manager.pendingAccepts(), 1);
  h.manager.stop();
});

test('pending handshakes are counted per source address until the connection names its link or closes', async () => {
  const h = harness();
  await servedLink(h);
  h.manager.adopt(40, '10.0.0.1:5000');
  h.manager.adopt(41, '10.0.0.1:5001');
  h.manager.adopt(42, '10.0.0.2:5000', '10.0.0.2');
  assert.equal(h.manager.pendingAcceptsFrom('10.0.0.1'), 2);
  assert.equal(h.manager.pendingAcceptsFrom('10.0.0.2'), 1);
  const [a, b, c] = h.ofType('adopt');
  h.manager.onShardMessage(a!.shard, { type: 'closed', connId: a!.msg.connId, linkId: null, reason: 'no ClientHello', handshakeFailure: true });
  h.manager.onShardMessage(b!.shard, { type: 'established', connId: b!.msg.connId, linkId: 0, dialed: false, peerVersion: 1 });
  assert.equal(h.manager.pendingAcceptsFrom('10.0.0.1'), 0);
  assert.equal(h.manager.pendingAccepts(), 1);
  h.manager.onShardMessage(c!.shard, { type: 'closed', connId: c!.msg.connId, linkId: null, reason: 'bad certificate', handshakeFailure: true });
  h.manager.onShardMessage(c!.shard, { type: 'closed', connId: c!.msg.connId, linkId: null, reason: 'reported twice', handshakeFailure: true });
  assert.equal(h.manager.pendingAccepts(), 0);
  assert.equal(h.manager.pendingAcceptsFrom('10.0.0.2'), 0);
  h.manager.stop();
});

test('a healthy tunnel is replaced by a newcomer of the same identity at most once per hold-off period (the backoff ceiling); the rest are refused and counted', async () => {
  const h = harness(); // backoff maxMs 20: the hold-off period
  // The peer's address is below ours: accepted connections are the preferred direction, so
  // before this rule every newer accepted connection replaced the active one.
  h.manager.setLinks([link('b', 0xc0a8000a)]);
  h.manager.setRouted(new Set(['b']));
  await h.clock.advance(0);
  const linkId = h.ofType('dial')[0]!.msg.linkId;
  const traffic = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };
  const accept = () => {
    h.manager.adopt(99, '10.0.0.9:4000');
    const { shard, msg } = h.ofType('adopt').at(-1)!;
    h.manager.onShardMessage(shard, { type: 'established', connId: msg.connId, linkId, dialed: false, peerVersion: 1 });
    return msg.connId;
  };
  const healthy = (connId: number) => h.manager.onShardMessage(0, { type: 'health', connId, linkId, rttMs: 1, lastReceiveAgeMs: 5, traffic });
  const closes = () => h.ofType('close').map((c) => c.msg.connId);

  const real = accept();
  const racing = accept(); // no keepalive has come back on `real` yet: not healthy, replaced freely
  assert.deepEqual(closes(), [real]);
  healthy(racing);
  const impostor1 = accept(); // first replacement of a healthy tunnel in the period: allowed
  assert.deepEqual(closes(), [real, racing]);
  healthy(impostor1);
  const impostor2 = accept(); // second one in the same period: refused
  assert.deepEqual(closes(), [real, racing, impostor2]);
  assert.match(h.ofType('close').at(-1)!.msg.reason, /healthy tunnel that was already replaced in the last 20 ms/);
  const impostor3 = accept();
  assert.deepEqual(closes(), [real, racing, impostor2, impostor3]);
  assert.deepEqual(h.manager.snapshot()[0]!.contention, { replaced: 1, refused: 2 });
  assert.equal(h.statuses.filter((s) => s.state !== 'Up').length, 1, 'only the initial Down: the link never flapped');

  await h.clock.advance(20); // the next period: one more replacement is allowed
  healthy(impostor1);
  const next = accept();
  assert.deepEqual(closes().at(-1), impostor1);
  assert.deepEqual(h.manager.snapshot()[0]!.contention, { replaced: 2, refused: 2 });
  assert.ok(next > impostor3);
  h.manager.stop();
});

test("the peer's announced cluster DNS travels with the Up report, and a changed announcement is reported again while Up", async () => {
  const h = harness();
  // A peer below our address: its dial (our accepted connection) is the one both keep.
  h.manager.setLinks([link('b', 0xc0a8000a)]);
  h.manager.setRouted(new Set(['b']));
  await h.clock.advance(0);
  const dial = h.ofType('dial')[0]!;
  const dns = { dnsIp: 0x6440100a, domain: 'cluster.local' };
  h.manager.onShardMessage(dial.shard, { type: 'established', connId: dial.msg.connId, linkId: dial.msg.linkId, dialed: true, peerVersion: 1, peerDns: dns });
  assert.deepEqual(h.statuses.at(-1), { name: 'b', state: 'Up', message: 'tunnel to b.example:8088 up', peerDns: dns });
  const reports = h.statuses.length;
  h.manager.onShardMessage(dial.shard, { type: 'health', connId: dial.msg.connId, linkId: dial.msg.linkId, rttMs: 1, lastReceiveAgeMs: 0, traffic: { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 } });
  assert.equal(h.statuses.length, reports, 'Up again with the same DNS is not reported twice');
  h.manager.adopt(43, '10.0.0.1:5001');
  const [adopt] = h.ofType('adopt');
  const changed = { dnsIp: 0x64401035, domain: 'c2.example' };
  h.manager.onShardMessage(adopt!.shard, { type: 'established', connId: adopt!.msg.connId, linkId: dial.msg.linkId, dialed: false, peerVersion: 1, peerDns: changed });
  assert.equal(h.ofType('activate').length, 2, 'the accepted connection carries the link now');
  assert.equal(h.statuses.length, reports + 1);
  assert.deepEqual(h.statuses.at(-1), { name: 'b', state: 'Up', message: 'tunnel to b.example:8088 up', peerDns: changed });
  h.manager.stop();
});

test("the peer's mesh DNS port travels with its reports (a change is reported while Up); malformed hello extensions are logged once per link, not per reconnect", async () => {
  const lines: string[] = [];
  const h = harness(undefined, createLogger({ write: (l) => lines.push(l) }));
  h.manager.setLinks([link('b', 0xc0a8000a)]);
  h.manager.setRouted(new Set(['b']));
  await h.clock.advance(0);
  const dial = h.ofType('dial')[0]!;
  const bad = ['mesh DNS port extension: 3 bytes, 2 needed'];
  h.manager.onShardMessage(dial.shard, { type: 'established', connId: dial.msg.connId, linkId: dial.msg.linkId, dialed: true, peerVersion: 1, peerMeshDnsPort: 9053, badHelloExtensions: bad });
  assert.deepEqual(h.statuses.at(-1), { name: 'b', state: 'Up', message: 'tunnel to b.example:8088 up', peerMeshDnsPort: 9053 });
  const warnings = () => lines.map((l) => JSON.parse(l) as { level: string; msg: string; problems?: string }).filter((l) => l.level === 'warn');
  assert.deepEqual(warnings().map((w) => [w.msg, w.problems]), [['peer hello: malformed extensions ignored', bad[0]]]);
  const reports = h.statuses.length;
  h.manager.adopt(43, '10.0.0.1:5001');
  const [adopt] = h.ofType('adopt');
  h.manager.onShardMessage(adopt!.shard, { type: 'established', connId: adopt!.msg.connId, linkId: dial.msg.linkId, dialed: false, peerVersion: 1, peerMeshDnsPort: 0, badHelloExtensions: bad });
  assert.equal(h.statuses.length, reports + 1, 'a changed port is reported while Up');
  assert.equal(h.statuses.at(-1)!.peerMeshDnsPort, 0, 'port 0 (no mesh DNS) is reported too');
  assert.equal(warnings().length, 1, 'the same problem again is not logged again');
  h.manager.stop();
});

test('252 new links are dialed at most maxDialsInFlight at a time; the rest start as handshakes end, established or failed', async () => {
  const sent: { shard: number; msg: MainToShard }[] = [];
  const clock = new FakeClock(0);
  const manager = new TunnelManager(
    { localClusterAddress: LOCAL, maxLinks: 256, staleAfterMs: 8000, maxDialsInFlight: 8, dialJitterMs: 500, clock, random: () => 0.999 },
    { send: (shard, msg) => sent.push({ shard, msg }), broadcast: () => undefined, assign: () => 0, release: () => undefined },
    { publishRoutes: () => undefined, setLinkShard: () => undefined },
    () => undefined,
    silentLogger,
  );
  const dials = () => sent.filter((s) => s.msg.type === 'dial') as { shard: number; msg: Extract<MainToShard, { type: 'dial' }> }[];
  manager.setLinks(Array.from({ length: 252 }, (_, i) => link(`l${i}`, 0xc0a80000 + 2 + i)));
  manager.setRouted(new Set(Array.from({ length: 252 }, (_, i) => `l${i}`)));
  assert.equal(dials().length, 0, 'fresh dials wait for their jitter');
  await clock.advance(500);
  assert.equal(dials().length, 8);
  let answered = 0;
  let peak = 0;
  while (answered < dials().length) {
    const d = dials()[answered]!;
    // Every third handshake fails; the others establish.
    if (answered % 3 === 0) manager.onShardMessage(0, { type: 'closed', connId: d.msg.connId, linkId: d.msg.linkId, reason: 'handshake not finished', handshakeFailure: true });
    else manager.onShardMessage(0, { type: 'established', connId: d.msg.connId, linkId: d.msg.linkId, dialed: true, peerVersion: 1 });
    answered++;
    peak = Math.max(peak, dials().length - answered);
    if (answered === dials().length) await clock.advance(60_000); // the failed ones are redialed after backoff
  }
  assert.ok(peak <= 8, `never more than 8 handshakes of ours in flight (saw ${peak})`);
  assert.equal(manager.pacer.peakInFlight, 8);
  assert.equal(manager.snapshot().filter((l) => l.state === 'Up').length, 252);
  manager.stop();
});

test('a link is reported Up only while its tunnel is up and its route is in place, in either order', async () => {
  const h = harness();
  h.manager.setLinks([link('b')]);
  await h.clock.advance(0);
  const dial = h.ofType('dial')[0]!;
  h.manager.onShardMessage(dial.shard, { type: 'established', connId: dial.msg.connId, linkId: dial.msg.linkId, dialed: true, peerVersion: 1 });
  assert.equal(h.statuses.at(-1)?.state, 'Down');
  assert.match(h.statuses.at(-1)!.message, /up; waiting for its route into the TUN$/);
  assert.equal(h.manager.snapshot()[0]?.state, 'Down', 'metrics read the same state');
  h.manager.setRouted(new Set(['b']));
  assert.equal(h.statuses.at(-1)?.state, 'Up');
  h.manager.setRouted(new Set());
  assert.equal(h.statuses.at(-1)?.state, 'Down', 'a route that could not be repaired takes the link out of Up');
  h.manager.setRouted(new Set(['b']));
  h.manager.onShardMessage(dial.shard, { type: 'closed', connId: dial.msg.connId, linkId: dial.msg.linkId, reason: 'peer went away', handshakeFailure: false });
  assert.deepEqual([h.statuses.at(-1)?.state, h.statuses.at(-1)?.message], ['Down', 'peer went away'], 'routed but no tunnel: Down with the tunnel\'s reason');
  h.manager.stop();
});
