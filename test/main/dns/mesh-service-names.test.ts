// MeshService names: the zone's answers (A, SRV, negative answers), and the resolver's
// routing of `<x>.msvc.<cluster>.<mesh>`: our own answered locally, a peer's asked of the
// peer broker's DNS at its cluster address, here a second resolver in memory, so the
// forwarded question, the peer's answer and the rewrite back are all real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import client from 'prom-client';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { AnswerCache } from '../../../src/main/dns/answer-cache.js';
import { ClusterTargetTable } from '../../../src/main/dns/cluster-targets.js';
import { MeshResolver, SHORT_MESH_SERVICE_CLUSTER, type Resolution } from '../../../src/main/dns/mesh-resolver.js';
import { DnsMetrics } from '../../../src/main/dns/dns-metrics.js';
import { MeshServiceZone, MESH_SERVICE_TTL_SECONDS, type MeshServiceEntry } from '../../../src/main/dns/mesh-service-zone.js';
import type { Upstream, UpstreamServer, UpstreamTransport } from '../../../src/main/dns/upstream-client.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';
import type { ValidLink } from '../../../src/shared/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const MESH_DNS_PORT = 8053;
const ECHO: MeshServiceEntry = {
  namespace: 'default',
  name: 'echo',
  address: '192.168.0.100',
  ports: [{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 9000 }],
};
const ECHO_PORT: MeshServiceEntry = { namespace: 'shop', name: 'echo-port', address: '192.168.0.12', ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] };
const SOA: Answer = {
  type: 'SOA', name: 'kubelink', ttl: 5,
  data: { mname: 'dns.kubelink', rname: 'hostmaster.kubelink', serial: 1, refresh: 60, retry: 10, expire: 3600, minimum: 5 },
};

function zone(): MeshServiceZone {
  const z = new MeshServiceZone();
  z.set([ECHO, ECHO_PORT]);
  return z;
}

/** The zone's answer for `name` under `msvc.c2.kubelink`, as [rcode, answers, additionals] in text. */
function ask(z: MeshServiceZone, relative: string, type: Question['type']) {
  const labels = relative === '' ? [] : relative.split('.');
  const a = z.answer({ name: [...labels, 'msvc.c2.kubelink'].join('.'), type }, labels, 'msvc.c2.kubelink', SOA);
  const text = (r: Answer) => `${r.name} ${r.type} ${'data' in r ? JSON.stringify(r.data) : ''}`;
  return { rcode: a.rcode, answers: a.answers.map(text), additionals: a.additionals.map(text), soa: a.authorities.length };
}

test('the zone: A is the MeshService address; SRV lists its named ports with the MeshService as target and its A as additional', () => {
  const z = zone();
  assert.deepEqual(ask(z, 'echo.default', 'A'), { rcode: 0, answers: ['echo.default.msvc.c2.kubelink A "192.168.0.100"'], additionals: [], soa: 0 });
  const target = 'echo.default.msvc.c2.kubelink';
  assert.deepEqual(ask(z, 'echo.default', 'SRV'), {
    rcode: 0,
    answers: [
      `${target} SRV {"priority":0,"weight":50,"port":80,"target":"${target}"}`,
      `${target} SRV {"priority":0,"weight":50,"port":53,"target":"${target}"}`,
    ],
    additionals: [`${target} A "192.168.0.100"`],
    soa: 0,
  });
  assert.deepEqual(ask(z, '_http._tcp.echo.default', 'SRV'), {
    rcode: 0,
    answers: [`_http._tcp.${target} SRV {"priority":0,"weight":100,"port":80,"target":"${target}"}`],
    additionals: [`${target} A "192.168.0.100"`],
    soa: 0,
  });
  assert.deepEqual(ask(z, '_dns._udp.echo.default', 'SRV').answers.length, 1);
  assert.equal(ask(z, '_http._tcp.echo-port.shop', 'SRV').answers[0], '_http._tcp.echo-port.shop.msvc.c2.kubelink SRV {"priority":0,"weight":100,"port":8080,"target":"echo-port.shop.msvc.c2.kubelink"}');
  const z2 = new MeshServiceZone();
  z2.set([{ ...ECHO, ports: [{ protocol: 'TCP', port: 9000 }] }]);
  assert.deepEqual(ask(z2, 'echo.default', 'SRV'), { rcode: 0, answers: [], additionals: [], soa: 1 }, 'no named port: no SRV record');
});

test('the zone: unknown MeshServices, namespaces and ports are NXDOMAIN; names without records of the asked type are NOERROR without answers; both with the SOA', () => {
  const z = zone();
  for (const [name, type] of [
    ['nope.default', 'A'], ['echo.other', 'A'], ['x', 'A'], ['a.b.echo.default', 'A'], ['more.a.b.echo.default', 'A'],
    ['_ftp._tcp.echo.default', 'SRV'], ['_http._udp.echo.default', 'SRV'], ['_sctp.echo.default', 'SRV'], ['_9000._tcp.echo.default', 'SRV'],
  ] as const) {
    assert.deepEqual(ask(z, name, type), { rcode: 3, answers: [], additionals: [], soa: 1 }, `${name} ${type}`);
  }
  for (const [name, type] of [['echo.default', 'AAAA'], ['echo.default', 'TXT'], ['', 'A'], ['default', 'A'], ['_tcp.echo.default', 'SRV'], ['_http._tcp.echo.default', 'A']] as const) {
    assert.deepEqual(ask(z, name, type), { rcode: 0, answers: [], additionals: [], soa: 1 }, `${name} ${type}`);
  }
  z.set([]);
  assert.equal(ask(z, 'echo.default', 'A').rcode, 3, 'a MeshService gone is gone');
});

test('the zone answers case-insensitively and keeps the case asked', () => {
  const a = zone().answer({ name: 'Echo.Default.msvc.C2.kubelink', type: 'A' }, ['Echo', 'Default'], 'msvc.C2.kubelink', SOA);
  assert.deepEqual(a.answers, [{ type: 'A', name: 'Echo.Default.msvc.C2.kubelink', ttl: MESH_SERVICE_TTL_SECONDS, data: '192.168.0.100' }]);
});

function egressOnlyLink(name: string, clusterAddress: string): ValidLink {
  return {
    name,
    egress: [{ network: parseIpv4('192.168.0.100')!, prefixLength: 32 }],
    clusterAddress: parseIpv4(clusterAddress)!,
    meshPrefixLength: 24,
    endpointHost: `broker.${name}.example`,
    endpointPort: 8088,
    dns: { omitPropagation: false },
    spec: { clusterAddress: `${clusterAddress}/24`, endpoint: `broker.${name}.example:8088`, egress: ['192.168.0.100/32'] },
  } as ValidLink;
}

/** Upstream that hands exchanges with one peer broker's DNS (ip:port) to its resolver, and counts what was asked. */
class PeerBrokers implements Upstream {
  readonly asked: { server: UpstreamServer; name: string }[] = [];
  readonly brokers = new Map<string, MeshResolver>();
  async exchange(server: UpstreamServer, query: Buffer, transport: UpstreamTransport): Promise<Buffer> {
    this.asked.push({ server, name: dnsPacket.decode(query).questions![0]!.name });
    const peer = this.brokers.get(`${server.ip}:${server.port}`);
    if (!peer) throw new Error(`no answer from ${server.ip}:${server.port} within 1500 ms`);
    const r = await peer.resolve(query, transport, 'peer');
    if (!r.reply) throw new Error('no reply');
    return r.reply;
  }
}

function broker(clusterName: string | undefined, upstream: Upstream, clock: FakeClock) {
  const targets = new ClusterTargetTable(clusterName, { dnsIp: parseIpv4('100.64.0.10')!, domain: 'cluster.local' }, { clusterDns: 53, meshDns: MESH_DNS_PORT });
  const cache = new AnswerCache({ maxEntries: 100, maxTtlSeconds: 3600 }, () => clock.now());
  const resolver = new MeshResolver({ meshDomain: 'kubelink', maxInFlight: 16, udpPayloadBytes: 1232 }, targets, upstream, cache, () => clock.now());
  return { targets, resolver };
}

function query(name: string, type: Question['type'] = 'A'): Buffer {
  return dnsPacket.encode({ type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
}

function decoded(r: Resolution): DecodedPacket & { rcode: string } {
  assert.ok(r.reply);
  return dnsPacket.decode(r.reply) as DecodedPacket & { rcode: string };
}

/** c1 links c2 without cidr (egress only); c2's broker publishes echo and echo-port and calls itself c2 (or nothing). */
function mesh(peerName: string | undefined = 'c2') {
  const clock = new FakeClock(0);
  const upstream = new PeerBrokers();
  const c1 = broker('c1', upstream, clock);
  const c2 = broker(peerName, new PeerBrokers(), clock);
  c2.resolver.meshServices.set([ECHO, ECHO_PORT]);
  c1.resolver.meshServices.set([{ namespace: 'default', name: 'local', address: '192.168.0.150', ports: [] }]);
  upstream.brokers.set(`192.168.0.12:${MESH_DNS_PORT}`, c2.resolver);
  c1.targets.setLinks([egressOnlyLink('c2', '192.168.0.12'), egressOnlyLink('c3', '192.168.0.13')]);
  c1.targets.setStatus('c2', 'Up', undefined);
  c1.targets.setStatus('c3', 'Down', undefined);
  return { clock, upstream, c1, c2 };
}

test("a peer's MeshService name is asked of the peer broker's DNS at its cluster address as <x>.msvc.<mesh>, and answered under the name asked", async () => {
  const m = mesh();
  const r = await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp');
  assert.equal(r.result, 'NOERROR');
  assert.equal(r.cluster, 'c2');
  assert.deepEqual(m.upstream.asked, [{ server: { ip: '192.168.0.12', port: MESH_DNS_PORT, route: 'mesh' }, name: 'echo.default.msvc.kubelink' }]);
  const p = decoded(r);
  assert.equal(p.id, 77);
  assert.equal(p.flag_aa, true);
  assert.deepEqual(p.answers!.map((a) => [a.name, a.type, 'data' in a ? a.data : undefined]), [['echo.default.msvc.c2.kubelink', 'A', '192.168.0.100']]);

  const srv = decoded(await m.c1.resolver.resolve(query('_http._tcp.echo-port.shop.msvc.c2.kubelink', 'SRV'), 'udp'));
  assert.deepEqual(srv.answers!.map((a) => [a.name, a.type, 'data' in a ? a.data : undefined]), [
    ['_http._tcp.echo-port.shop.msvc.c2.kubelink', 'SRV', { priority: 0, weight: 100, port: 8080, target: 'echo-port.shop.msvc.c2.kubelink' }],
  ]);
  assert.deepEqual(srv.additionals!.filter((a) => a.type === 'A').map((a) => [a.name, 'data' in a ? a.data : undefined]), [['echo-port.shop.msvc.c2.kubelink', '192.168.0.12']]);

  // Cached for the zone's TTL: asked again, nobody is asked.
  await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp');
  assert.equal(m.upstream.asked.length, 2);
});

test('the peer need not know the name its peers give it: a peer without --cluster-name answers the same', async () => {
  const m = mesh(undefined);
  const p = decoded(await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp'));
  assert.equal(p.rcode, 'NOERROR');
  assert.deepEqual(p.answers!.map((a) => ('data' in a ? a.data : undefined)), ['192.168.0.100']);
});

test("an unknown or Error/Invalid MeshService of a peer is NXDOMAIN (the peer's answer, names mapped back), an unknown cluster NXDOMAIN without asking, a Down peer SERVFAIL without asking", async () => {
  const m = mesh();
  const nx = await m.c1.resolver.resolve(query('nope.default.msvc.c2.kubelink'), 'udp');
  assert.equal(nx.result, 'NXDOMAIN');
  assert.equal(decoded(nx).authorities![0]!.type, 'SOA');
  assert.equal(m.upstream.asked.length, 1);

  const unknown = await m.c1.resolver.resolve(query('echo.default.msvc.c9.kubelink'), 'udp');
  assert.equal(unknown.result, 'NXDOMAIN');
  const down = await m.c1.resolver.resolve(query('echo.default.msvc.c3.kubelink'), 'udp');
  assert.equal(down.result, 'SERVFAIL');
  assert.equal(down.cluster, 'c3');
  assert.equal(m.upstream.asked.length, 1, 'neither the unknown nor the Down cluster was asked');
});

test("an egress-only link without a cluster DNS: its Service names are NXDOMAIN at once, its MeshService names resolve", async () => {
  const m = mesh();
  const svc = await m.c1.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp');
  assert.equal(svc.result, 'NXDOMAIN');
  assert.equal(m.upstream.asked.length, 0);
  assert.equal((await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp')).result, 'NOERROR');
});

test("this cluster's own MeshService names are answered locally, under its --cluster-name and as msvc.<mesh>; nobody is asked", async () => {
  const m = mesh();
  for (const name of ['local.default.msvc.c1.kubelink', 'Local.Default.MSVC.kubelink.']) {
    const r = await m.c1.resolver.resolve(query(name), 'udp');
    assert.equal(r.result, 'NOERROR', name);
    assert.deepEqual(decoded(r).answers!.map((a) => [a.name, 'data' in a ? a.data : undefined]), [[name.replace(/\.$/, ''), '192.168.0.150']]);
  }
  assert.equal((await m.c1.resolver.resolve(query('echo.default.msvc.c1.kubelink'), 'udp')).result, 'NXDOMAIN', "the peer's MeshService is not ours");
  assert.equal((await m.c1.resolver.resolve(query('msvc.c1.kubelink', 'SOA'), 'udp')).result, 'NOERROR', 'the zone itself exists');
  assert.equal(m.upstream.asked.length, 0);
});

test('a link that omits DNS propagation has no MeshService names either', async () => {
  const m = mesh();
  m.c1.targets.setLinks([{ ...egressOnlyLink('c2', '192.168.0.12'), dns: { omitPropagation: true } }]);
  assert.equal((await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp')).result, 'NXDOMAIN');
  assert.equal(m.upstream.asked.length, 0);
});

test("a peer's broker gets only this cluster's MeshService names (<x>.msvc.<mesh>); anything else it asks is REFUSED, so the open port relays nothing", async () => {
  const m = mesh();
  const asPeer = (name: string, type: Question['type'] = 'A') => m.c2.resolver.resolve(query(name, type), 'udp', 'peer');
  assert.equal((await asPeer('echo.default.msvc.kubelink')).result, 'NOERROR');
  assert.equal((await asPeer('_http._tcp.echo.default.msvc.kubelink', 'SRV')).result, 'NOERROR');
  assert.equal((await asPeer('nope.default.msvc.kubelink')).result, 'NXDOMAIN');
  for (const name of ['echo.default.svc.c2.kubelink', 'echo.default.msvc.c2.kubelink', 'echo.default.svc.c3.kubelink', 'kubelink', 'example.com']) {
    assert.equal((await asPeer(name)).result, 'REFUSED', name);
  }
  assert.equal((await m.c2.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp', 'local')).result, 'NOERROR', 'a local client may ask the long form');
});

test("the peer's MeshService names are asked at the mesh DNS port its hello announced; without the extension (an older broker) at our own port", async () => {
  const m = mesh();
  m.upstream.brokers.set('192.168.0.12:9053', m.c2.resolver);
  m.c1.targets.setStatus('c2', 'Up', undefined, 9053);
  assert.equal((await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp')).result, 'NOERROR');
  assert.deepEqual(m.upstream.asked.map((a) => a.server), [{ ip: '192.168.0.12', port: 9053, route: 'mesh' }]);
  // Reconnected as an older broker: the hello announces no port, so ours is asked again.
  m.c1.targets.setStatus('c2', 'Up', undefined, undefined);
  assert.equal((await m.c1.resolver.resolve(query('_http._tcp.echo.default.msvc.c2.kubelink', 'SRV'), 'udp')).result, 'NOERROR');
  assert.deepEqual(m.upstream.asked.map((a) => a.server.port), [9053, MESH_DNS_PORT]);
});

test('a peer that announced mesh DNS port 0 publishes no names: NXDOMAIN at once with the mesh SOA (negative caching), nobody is asked', async () => {
  const m = mesh();
  m.c1.targets.setStatus('c2', 'Up', undefined, 0);
  const r = await m.c1.resolver.resolve(query('echo.default.msvc.c2.kubelink'), 'udp');
  assert.equal(r.result, 'NXDOMAIN');
  assert.equal(r.cluster, 'c2');
  assert.equal(decoded(r).authorities![0]!.type, 'SOA');
  assert.equal(m.upstream.asked.length, 0);
  // Its other names are unaffected by its mesh DNS port.
  assert.equal((await m.c1.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp')).cluster, 'c2');
});

test('queries of the <x>.msvc.<mesh> form are counted under cluster="msvc", apart from malformed ones and names outside the mesh ("")', async () => {
  const m = mesh();
  const registry = new client.Registry();
  const metrics = new DnsMetrics(registry, { cacheEntries: () => 0, exchangesInFlight: () => 0, overloaded: () => 0, unexpectedUpstreamAnswers: () => 0 });
  const asked: [Buffer, 'local' | 'peer'][] = [
    [query('echo.default.msvc.kubelink'), 'peer'],
    [query('nope.default.msvc.kubelink'), 'peer'],
    [query('example.com'), 'local'],
    [Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), 'local'],
    [query('echo.default.msvc.c2.kubelink'), 'local'],
  ];
  for (const [q, from] of asked) metrics.observe(await m.c2.resolver.resolve(q, 'udp', from), 'udp');
  const values = (await registry.getSingleMetric('kubelink_dns_queries_total')!.get()).values;
  const count = (labels: Record<string, string>) => values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
  assert.equal(count({ cluster: SHORT_MESH_SERVICE_CLUSTER, result: 'NOERROR' }), 1);
  assert.equal(count({ cluster: SHORT_MESH_SERVICE_CLUSTER, result: 'NXDOMAIN' }), 1);
  assert.equal(count({ cluster: '' }), 2, 'REFUSED outside the mesh and the malformed query');
  assert.equal(count({ cluster: 'c2' }), 1);
  assert.equal(SHORT_MESH_SERVICE_CLUSTER, 'msvc', 'the documented label value');
});
