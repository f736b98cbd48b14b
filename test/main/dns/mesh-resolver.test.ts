// The resolver against a scripted cluster DNS (in memory) and a manual clock: what each
// kind of name gets, the rewrite both ways, the cache, truncation, bad input and bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { AnswerCache } from '../../../src/main/dns/answer-cache.js';
import { ClusterTargetTable } from '../../../src/main/dns/cluster-targets.js';
import { MeshResolver, Rcode, type Resolution } from '../../../src/main/dns/mesh-resolver.js';
import type { Upstream, UpstreamServer, UpstreamTransport } from '../../../src/main/dns/upstream-client.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';
import type { LinkDns, ValidLink } from '../../../src/shared/types.js';
import { FakeClock, settle } from '../../helpers/fake-clock.js';

const OWN_DNS = { dnsIp: parseIpv4('100.64.0.10')!, domain: 'cluster.local' };

function link(name: string, cidr: string, dns: LinkDns = { omitPropagation: false }): ValidLink {
  const [network, length] = cidr.split('/');
  return {
    name,
    egress: [],
    serviceCidr: { network: parseIpv4(network!)!, prefixLength: Number(length) },
    clusterAddress: parseIpv4('192.168.0.12')!,
    meshPrefixLength: 24,
    endpointHost: `broker.${name}.example`,
    endpointPort: 8088,
    dns,
    spec: { cidr, clusterAddress: '192.168.0.12/24', endpoint: `broker.${name}.example:8088` },
  } as ValidLink;
}

interface Asked {
  server: UpstreamServer;
  question: Question;
  transport: UpstreamTransport;
  udpPayloadSize?: number;
}

/** A cluster DNS that answers from a script; `hold` keeps exchanges open until released. */
class ScriptedUpstream implements Upstream {
  readonly asked: Asked[] = [];
  hold = false;
  private readonly held: (() => void)[] = [];
  constructor(private readonly answer: (q: Question, server: UpstreamServer, transport: UpstreamTransport) => Partial<DecodedPacket> | 'fail') {}
  async exchange(server: UpstreamServer, query: Buffer, transport: UpstreamTransport): Promise<Buffer> {
    const decoded = dnsPacket.decode(query);
    const question = decoded.questions![0]!;
    const opt = decoded.additionals?.find((r) => r.type === 'OPT');
    this.asked.push({ server, question, transport, udpPayloadSize: opt?.type === 'OPT' ? opt.udpPayloadSize : undefined });
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    const scripted = this.answer(question, server, transport);
    if (scripted === 'fail') throw new Error('no answer within 1500 ms');
    return dnsPacket.encode({ type: 'response', id: decoded.id, flags: scripted.flags ?? 0, questions: [question], answers: scripted.answers ?? [], authorities: scripted.authorities ?? [] });
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

const SOA: Answer = {
  type: 'SOA', name: 'cluster.local', ttl: 30,
  data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 20 },
};

/** A cluster DNS: echo.default.svc.cluster.local is 100.64.16.20 (TTL 30), a CNAME, big.* has 100 A records; the rest NXDOMAIN. */
function clusterDns(q: Question): Partial<DecodedPacket> {
  const name = q.name.toLowerCase();
  if (name === 'echo.default.svc.cluster.local') return { flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: [{ type: 'A', name: q.name, ttl: 30, data: '100.64.16.20' }] };
  if (name === 'alias.default.svc.cluster.local') {
    return { answers: [{ type: 'CNAME', name: q.name, ttl: 30, data: 'echo.default.svc.cluster.local' }, { type: 'A', name: 'echo.default.svc.cluster.local', ttl: 10, data: '100.64.16.20' }] };
  }
  if (name === 'big.default.svc.cluster.local') {
    return { answers: Array.from({ length: 100 }, (_, i) => ({ type: 'A' as const, name: q.name, ttl: 30, data: `100.64.17.${i}` })) };
  }
  return { flags: Rcode.NXDOMAIN, authorities: [SOA] };
}

function harness(answer: ConstructorParameters<typeof ScriptedUpstream>[0] = clusterDns, maxInFlight = 512) {
  const clock = new FakeClock(0);
  const targets = new ClusterTargetTable('c1', OWN_DNS);
  targets.setLinks([link('c2', '100.64.16.0/20'), link('c3', '100.64.32.0/20'), link('quiet', '100.64.48.0/20', { omitPropagation: true })]);
  targets.setStatus('c2', 'Up', undefined);
  targets.setStatus('quiet', 'Up', undefined);
  targets.setStatus('c3', 'Down', undefined);
  const upstream = new ScriptedUpstream(answer);
  const cache = new AnswerCache({ maxEntries: 100, maxTtlSeconds: 3600 }, () => clock.now());
  const resolver = new MeshResolver({ meshDomain: 'kubelink', maxInFlight, udpPayloadBytes: 1232 }, targets, upstream, cache, () => clock.now());
  return { clock, targets, upstream, cache, resolver };
}

function query(name: string, type: Question['type'] = 'A', options: { id?: number; edns?: number } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query', id: options.id ?? 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }],
    additionals: options.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: options.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

function reply(r: Resolution): DecodedPacket & { rcode: string } {
  assert.ok(r.reply, `expected a reply (result ${r.result})`);
  return dnsPacket.decode(r.reply) as DecodedPacket & { rcode: string };
}

test("a linked cluster's name is asked of its cluster DNS in its own domain and answered in the mesh, TTL kept", async () => {
  const h = harness();
  const r = await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp');
  assert.equal(r.result, 'NOERROR');
  assert.equal(r.cluster, 'c2');
  assert.deepEqual(h.upstream.asked.map((a) => [a.server, a.question.name, a.transport]), [[{ ip: '100.64.16.10', port: 53, route: 'mesh' }, 'echo.default.svc.cluster.local', 'udp']]);
  const p = reply(r);
  assert.equal(p.id, 4242);
  assert.equal(p.rcode, 'NOERROR');
  assert.equal(p.flag_rd, true);
  assert.equal(p.flag_aa, true);
  assert.deepEqual(p.questions, [{ name: 'echo.default.svc.c2.kubelink', type: 'A', class: 'IN' }]);
  assert.deepEqual(p.answers!.map((a) => [a.name, a.type, 'ttl' in a ? a.ttl : undefined, 'data' in a ? a.data : undefined]), [['echo.default.svc.c2.kubelink', 'A', 30, '100.64.16.20']]);
});

test('names inside answers are mapped back too (CNAME target), and the question keeps the case the client wrote', async () => {
  const h = harness();
  const p = reply(await h.resolver.resolve(query('Alias.Default.svc.C2.kubelink'), 'udp'));
  assert.deepEqual(p.questions![0]!.name, 'Alias.Default.svc.C2.kubelink');
  assert.deepEqual(p.answers!.map((a) => [a.name.toLowerCase(), 'data' in a ? a.data : undefined]), [
    ['alias.default.svc.c2.kubelink', 'echo.default.svc.c2.kubelink'],
    ['echo.default.svc.c2.kubelink', '100.64.16.20'],
  ]);
});

test("this cluster's own name is answered by the local cluster DNS, not through a tunnel", async () => {
  const h = harness();
  const r = await h.resolver.resolve(query('echo.default.svc.c1.kubelink'), 'udp');
  assert.equal(r.result, 'NOERROR');
  assert.deepEqual(h.upstream.asked[0]!.server, { ip: '100.64.0.10', port: 53, route: 'local' });
});

test('names outside the mesh domain are REFUSED without asking anyone: not an open resolver', async () => {
  const h = harness();
  for (const name of ['example.com', 'echo.default.svc.cluster.local', 'kubelink.example.com', 'xkubelink']) {
    const r = await h.resolver.resolve(query(name), 'udp');
    assert.equal(r.result, 'REFUSED', name);
    assert.equal(reply(r).rcode, 'REFUSED');
  }
  assert.equal(h.upstream.asked.length, 0);
});

test('an unknown cluster, an omitted link and a removed link get NXDOMAIN at once, with the mesh SOA for negative caching', async () => {
  const h = harness();
  for (const name of ['echo.default.svc.c9.kubelink', 'echo.default.svc.quiet.kubelink']) {
    const r = await h.resolver.resolve(query(name), 'udp');
    assert.equal(r.result, 'NXDOMAIN', name);
    const p = reply(r);
    assert.equal(p.authorities![0]!.type, 'SOA');
    assert.equal(p.authorities![0]!.name, 'kubelink');
  }
  assert.equal((await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp')).result, 'NOERROR');
  h.targets.setLinks([link('c3', '100.64.32.0/20')]);
  assert.equal((await h.resolver.resolve(query('other.default.svc.c2.kubelink'), 'udp')).result, 'NXDOMAIN');
  assert.equal((await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp')).result, 'NXDOMAIN', 'a cached answer does not outlive its link');
  assert.equal(h.upstream.asked.length, 1);
  assert.equal((await h.resolver.resolve(query('kubelink'), 'udp')).result, 'NOERROR', 'the mesh domain itself exists');
});

test('a linked cluster whose tunnel is not Up gets SERVFAIL at once; once Up its names resolve', async () => {
  const h = harness();
  const r = await h.resolver.resolve(query('echo.default.svc.c3.kubelink'), 'udp');
  assert.equal(r.result, 'SERVFAIL');
  assert.equal(r.cluster, 'c3');
  assert.equal(h.upstream.asked.length, 0);
  h.targets.setStatus('c3', 'Up', undefined);
  assert.equal((await h.resolver.resolve(query('echo.default.svc.c3.kubelink'), 'udp')).result, 'NOERROR');
  assert.equal(h.upstream.asked[0]!.server.ip, '100.64.32.10');
});

test("the peer's announced DNS IP and domain are used unless spec.dns says otherwise", async () => {
  const h = harness((q) => (q.name === 'echo.default.svc.c3.example' ? { answers: [{ type: 'A', name: q.name, ttl: 5, data: '100.64.32.7' }] } : { flags: Rcode.NXDOMAIN }));
  h.targets.setStatus('c3', 'Up', { dnsIp: parseIpv4('100.64.32.53')!, domain: 'c3.example' });
  const p = reply(await h.resolver.resolve(query('echo.default.svc.c3.kubelink'), 'udp'));
  assert.equal(p.answers![0]!.name, 'echo.default.svc.c3.kubelink');
  assert.equal(h.upstream.asked[0]!.server.ip, '100.64.32.53');
  h.targets.setLinks([link('c3', '100.64.32.0/20', { dnsIp: parseIpv4('100.64.32.11'), omitPropagation: false })]);
  await h.resolver.resolve(query('echo.default.svc.c3.kubelink'), 'udp');
  assert.equal(h.upstream.asked[1]!.server.ip, '100.64.32.11');
  assert.equal(h.upstream.asked[1]!.question.name, 'echo.default.svc.c3.example', 'the announced domain still applies');
});

test('answers are cached for their TTL, counted down; negative answers for the SOA minimum', async () => {
  const h = harness();
  await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp');
  await h.clock.advance(12_000);
  const hit = await h.resolver.resolve(query('ECHO.default.svc.c2.kubelink', 'A', { id: 7 }), 'udp');
  assert.equal(hit.cached, true);
  const p = reply(hit);
  assert.equal(p.id, 7);
  assert.equal(p.questions![0]!.name, 'ECHO.default.svc.c2.kubelink');
  assert.equal('ttl' in p.answers![0]! ? p.answers![0]!.ttl : -1, 18, 'TTL counted down by the 12 s in the cache');
  assert.equal(h.upstream.asked.length, 1);
  await h.clock.advance(18_000);
  assert.equal((await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp')).cached, false, 'expired after 30 s');
  assert.equal(h.upstream.asked.length, 2);

  const missing = await h.resolver.resolve(query('nope.default.svc.c2.kubelink'), 'udp');
  assert.equal(missing.result, 'NXDOMAIN');
  assert.equal(reply(missing).authorities![0]!.name, 'c2.kubelink', 'the SOA owner is mapped into the mesh');
  await h.clock.advance(19_000);
  assert.equal((await h.resolver.resolve(query('nope.default.svc.c2.kubelink'), 'udp')).cached, true);
  await h.clock.advance(1_000);
  assert.equal((await h.resolver.resolve(query('nope.default.svc.c2.kubelink'), 'udp')).cached, false, 'negative TTL = min(SOA TTL 30, minimum 20)');
});

test('an NXDOMAIN without SOA and a SERVFAIL are not cached', async () => {
  let rcode: number = Rcode.NXDOMAIN;
  const h = harness(() => ({ flags: rcode }));
  await h.resolver.resolve(query('a.c2.kubelink'), 'udp');
  await h.resolver.resolve(query('a.c2.kubelink'), 'udp');
  rcode = Rcode.SERVFAIL;
  const r = await h.resolver.resolve(query('b.c2.kubelink'), 'udp');
  assert.equal(r.result, 'SERVFAIL');
  await h.resolver.resolve(query('b.c2.kubelink'), 'udp');
  assert.equal(h.upstream.asked.length, 4);
});

test('an answer too large for UDP is sent truncated (TC, no records); the TCP retry gets it whole from the cache', async () => {
  const h = harness();
  const udp = await h.resolver.resolve(query('big.default.svc.c2.kubelink'), 'udp');
  const truncated = reply(udp);
  assert.equal(truncated.flag_tc, true);
  assert.equal(truncated.answers!.length, 0);
  assert.ok(udp.reply!.length <= 512);
  const tcp = await h.resolver.resolve(query('big.default.svc.c2.kubelink'), 'tcp');
  assert.equal(tcp.cached, true);
  const whole = reply(tcp);
  assert.equal(whole.flag_tc, false);
  assert.equal(whole.answers!.length, 100);
  // A client announcing a large EDNS buffer gets it over UDP, up to our 1232-byte cap.
  const edns = reply(await h.resolver.resolve(query('echo.default.svc.c2.kubelink', 'A', { edns: 4096 }), 'udp'));
  assert.equal(edns.flag_tc, false);
  assert.equal(h.upstream.asked[0]!.udpPayloadSize, 1232, 'upstreams are asked with EDNS');
});

test('a truncated answer from the cluster DNS is asked again over TCP', async () => {
  const h = harness((q, _s, transport) => (transport === 'udp' ? { flags: dnsPacket.TRUNCATED_RESPONSE } : { answers: [{ type: 'A', name: q.name, ttl: 30, data: '100.64.16.99' }] }));
  const p = reply(await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp'));
  assert.deepEqual(h.upstream.asked.map((a) => a.transport), ['udp', 'tcp']);
  assert.equal('data' in p.answers![0]! ? p.answers![0]!.data : '', '100.64.16.99');
});

test('a cluster DNS that does not answer gives SERVFAIL, and the failure is not cached', async () => {
  const h = harness(() => 'fail');
  const r = await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp');
  assert.equal(r.result, 'SERVFAIL');
  assert.match(r.problem ?? '', /no answer/);
  await h.resolver.resolve(query('echo.default.svc.c2.kubelink'), 'udp');
  assert.equal(h.upstream.asked.length, 2);
});

/** A query with a raw question name (labels as given) and type A. */
function rawQuery(nameBytes: number[], extra: number[] = [], counts = { qd: 1, ar: 0 }): Buffer {
  return Buffer.from([0x12, 0x34, 0x01, 0x00, 0, counts.qd, 0, 0, 0, 0, 0, counts.ar, ...nameBytes, 0, 1, 0, 1, ...extra]);
}

function labels(...parts: string[]): number[] {
  return [...parts.flatMap((p) => [p.length, ...Buffer.from(p)]), 0];
}

test('names over 255 bytes, compression loops and malformed questions get FORMERR with the query id; nothing reaches a cluster DNS', async () => {
  const h = harness();
  const long = labels(...Array.from({ length: 5 }, () => 'a'.repeat(60)), 'c2', 'kubelink'); // 5*61 + 3 + 9 + 1 > 255
  const selfPointer = rawQuery([0xc0, 0x0c]); // the question points at itself
  // A valid question (offsets 12..30), then an additional record at 31 whose owner name points at itself: a loop.
  const loopInAdditional = rawQuery(labels('a', 'c2', 'kubelink'), [0xc0, 31, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0], { qd: 1, ar: 1 });
  const forwardPointer = rawQuery(labels('a', 'c2', 'kubelink'), [0xc0, 0x40, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0], { qd: 1, ar: 1 });
  const twoQuestions = rawQuery(labels('a', 'c2', 'kubelink'), [], { qd: 2, ar: 0 });
  const dotInLabel = rawQuery(labels('a.b', 'c2', 'kubelink'));
  const cut = rawQuery(labels('a', 'c2', 'kubelink')).subarray(0, 20);
  for (const [what, packet] of Object.entries({ long, selfPointer, loopInAdditional, forwardPointer, twoQuestions, dotInLabel, cut })) {
    const r = await h.resolver.resolve(Array.isArray(packet) ? rawQuery(packet) : packet, 'udp');
    assert.equal(r.result, 'FORMERR', what);
    const p = reply(r);
    assert.equal(p.id, 0x1234, what);
    assert.equal(p.type, 'response');
    assert.equal(p.rcode, 'FORMERR');
  }
  assert.equal(h.upstream.asked.length, 0);
});

test('fragments shorter than a header and responses are dropped without a reply', async () => {
  const h = harness();
  assert.deepEqual(await h.resolver.resolve(Buffer.from([1, 2, 3]), 'udp'), { reply: undefined, result: 'dropped', cluster: '', cached: false, problem: 'shorter than the 12-byte header' });
  const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a.c2.kubelink', type: 'A' }] });
  assert.equal((await h.resolver.resolve(response, 'udp')).result, 'dropped');
});

test('identical questions in flight share one exchange; beyond maxInFlight exchanges a query gets SERVFAIL at once', async () => {
  const h = harness(clusterDns, 2);
  h.upstream.hold = true;
  const same = [h.resolver.resolve(query('echo.default.svc.c2.kubelink', 'A', { id: 1 }), 'udp'), h.resolver.resolve(query('echo.default.svc.c2.kubelink', 'A', { id: 2 }), 'udp')];
  const other = h.resolver.resolve(query('alias.default.svc.c2.kubelink'), 'udp');
  await settle();
  const refused = await h.resolver.resolve(query('third.default.svc.c2.kubelink'), 'udp');
  assert.equal(refused.result, 'SERVFAIL');
  assert.equal(h.resolver.overloaded, 1);
  assert.equal(h.upstream.asked.length, 2, 'one exchange for the two identical questions, one for the other');
  h.upstream.release();
  const answers = await Promise.all([...same, other]);
  assert.deepEqual(answers.map((a) => a.result), ['NOERROR', 'NOERROR', 'NOERROR']);
  assert.deepEqual(answers.map((a) => reply(a).id), [1, 2, 4242]);
  await settle();
  assert.equal(h.resolver.exchangesInFlight, 0);
});
