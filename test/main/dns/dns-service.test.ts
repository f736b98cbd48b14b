// The DNS service over real loopback sockets (UDP and TCP) against a stand-in cluster DNS:
// queries in, forwarded out, answers back; timeouts decided by a manual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import client from 'prom-client';
import { DnsService } from '../../../src/main/dns/dns-service.js';
import { UpstreamClient } from '../../../src/main/dns/upstream-client.js';
import { bindUdpAndTcp } from '../../../src/main/dns/udp-tcp-port.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';
import { silentLogger } from '../../../src/shared/log.js';
import type { Ipv4Prefix, ValidLink } from '../../../src/shared/types.js';
import { FakeClock, settle } from '../../helpers/fake-clock.js';

const LOOPBACK = '127.0.0.1';

/** A cluster DNS on loopback: answers `<x>.cluster.local` A queries with 100.64.16.20 unless silent. */
async function standInClusterDns(): Promise<{ port: number; silent: boolean; asked: string[]; close: () => Promise<void> }> {
  const state = { port: 0, silent: false, asked: [] as string[], close: async () => undefined as void };
  const answer = (query: Buffer): Buffer => {
    const q = dnsPacket.decode(query);
    const question = q.questions![0]!;
    state.asked.push(question.name);
    return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [question], answers: [{ type: 'A', name: question.name, ttl: 30, data: '100.64.16.20' }] });
  };
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (state.silent) state.asked.push(dnsPacket.decode(msg).questions![0]!.name);
    else udp.send(answer(msg), rinfo.port, rinfo.address);
  };
  const onConnection = (socket: net.Socket): void => {
    socket.on('data', (chunk) => {
      const reply = answer(chunk.subarray(2, 2 + chunk.readUInt16BE(0)));
      const framed = Buffer.alloc(2 + reply.length);
      framed.writeUInt16BE(reply.length, 0);
      reply.copy(framed, 2);
      socket.end(framed);
    });
  };
  const bound = await bindUdpAndTcp(0, LOOPBACK, () => dgram.createSocket('udp4').on('message', onMessage), () => net.createServer(onConnection));
  const { udp, tcp } = bound;
  state.port = bound.port;
  state.close = async () => {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  };
  return state;
}

function link(name: string): ValidLink {
  return {
    name, egress: [], clusterAddress: parseIpv4('192.168.0.12')!, meshPrefixLength: 24, endpointHost: 'b.example', endpointPort: 8088,
    // The stand-in listens on loopback: spec.dns points there (validation would insist on the link's CIDR).
    dns: { dnsIp: parseIpv4(LOOPBACK)!, omitPropagation: false },
    spec: { clusterAddress: '192.168.0.12/24', endpoint: 'b.example:8088' },
  } as ValidLink;
}

async function udpAsk(port: number, packet: Buffer): Promise<DecodedPacket> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve) => {
      socket.on('message', (msg) => resolve(dnsPacket.decode(msg)));
      socket.send(packet, port, LOOPBACK);
    });
  } finally {
    socket.close();
  }
}

async function tcpAsk(port: number, packet: Buffer): Promise<DecodedPacket> {
  const socket = net.connect(port, LOOPBACK);
  let got = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([packet.length >> 8, packet.length & 0xff]), packet])));
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        socket.destroy();
        resolve(dnsPacket.decode(got.subarray(2)));
      }
    });
  });
}

const ask = (name: string, id = 1) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });

async function started(clock = new FakeClock(0), meshCidr?: Ipv4Prefix) {
  const upstream = await standInClusterDns();
  const registry = new client.Registry();
  const service = new DnsService(
    { port: 0, host: LOOPBACK, meshDomain: 'kubelink', clusterName: 'c1', clusterAddress: LOOPBACK, ownDns: { dnsIp: parseIpv4(LOOPBACK)!, domain: 'cluster.local' }, clusterDnsPort: upstream.port, meshCidr },
    registry,
    silentLogger,
    clock,
  );
  const port = await service.start();
  service.setLinks([link('c2')]);
  service.setLinkStatus('c2', 'Up', undefined);
  return { upstream, registry, service, port, clock, close: async () => { await service.stop(); await upstream.close(); } };
}

test('a mesh name asked over UDP and over TCP is forwarded to the cluster DNS and answered in the mesh; metrics count it', async (t) => {
  const s = await started();
  t.after(s.close);
  const udp = await udpAsk(s.port, ask('echo.default.svc.c2.kubelink', 11));
  assert.equal(udp.id, 11);
  assert.deepEqual(udp.answers!.map((a) => [a.name, 'data' in a ? a.data : '']), [['echo.default.svc.c2.kubelink', '100.64.16.20']]);
  const tcp = await tcpAsk(s.port, ask('other.default.svc.c2.kubelink', 12));
  assert.equal(tcp.id, 12);
  assert.equal(tcp.answers![0]!.name, 'other.default.svc.c2.kubelink');
  assert.deepEqual(s.upstream.asked, ['echo.default.svc.cluster.local', 'other.default.svc.cluster.local']);
  const refused = await udpAsk(s.port, ask('example.com'));
  assert.equal((refused as DecodedPacket & { rcode: string }).rcode, 'REFUSED');
  const metrics = await s.registry.metrics();
  assert.match(metrics, /kubelink_dns_queries_total\{result="NOERROR",cluster="c2",transport="udp"\} 1/);
  assert.match(metrics, /kubelink_dns_queries_total\{result="NOERROR",cluster="c2",transport="tcp"\} 1/);
  assert.match(metrics, /kubelink_dns_queries_total\{result="REFUSED",cluster="",transport="udp"\} 1/);
  assert.match(metrics, /kubelink_dns_forward_duration_seconds_count 2/);
});

test('a cluster DNS that stays silent gives SERVFAIL once the upstream timeout (1.5 s) passes on the clock, not before', async (t) => {
  const s = await started();
  t.after(s.close);
  s.upstream.silent = true;
  let answered: DecodedPacket | undefined;
  const pending = udpAsk(s.port, ask('echo.default.svc.c2.kubelink', 5)).then((p) => (answered = p));
  for (let i = 0; i < 50 && s.upstream.asked.length === 0; i++) await settle();
  assert.equal(s.upstream.asked.length, 1);
  await s.clock.advance(1499);
  await settle();
  assert.equal(answered, undefined, 'no answer before the timeout');
  await s.clock.advance(1);
  const reply = (await pending) as DecodedPacket & { rcode: string };
  assert.equal(reply.rcode, 'SERVFAIL');
  assert.equal(reply.id, 5);
});

test('a stream of malformed queries gets one FORMERR each and leaves the server answering normally', async (t) => {
  const s = await started();
  t.after(s.close);
  const selfPointer = Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
  const long = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'a', type: 'A' }] });
  const longName = Buffer.concat([long.subarray(0, 12), Buffer.from(Array.from({ length: 5 }, () => [62, ...Buffer.alloc(62, 0x61)]).flat()), Buffer.from([0, 0, 1, 0, 1])]);
  let formerr = 0;
  for (let i = 0; i < 20; i++) {
    for (const bad of [selfPointer, longName]) {
      const reply = (await udpAsk(s.port, bad)) as DecodedPacket & { rcode: string };
      if (reply.rcode === 'FORMERR') formerr++;
    }
  }
  assert.equal(formerr, 40);
  const good = await udpAsk(s.port, ask('echo.default.svc.c2.kubelink'));
  assert.equal(good.answers!.length, 1);
  assert.match(await s.registry.metrics(), /kubelink_dns_queries_total\{result="FORMERR",cluster="",transport="udp"\} 40/);
});

test('queries from inside the mesh CIDR are peers\' brokers: they get this cluster\'s MeshService names over UDP and TCP, and REFUSED for names that would be forwarded', async (t) => {
  // Loopback stands in for the mesh: the asker's address lies inside meshCidr.
  const s = await started(new FakeClock(0), { network: parseIpv4('127.0.0.0')!, prefixLength: 8 });
  t.after(s.close);
  s.service.setMeshServices([{ namespace: 'default', name: 'echo', address: '192.168.0.100', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }]);
  const udp = await udpAsk(s.port, ask('echo.default.msvc.kubelink', 21));
  assert.deepEqual(udp.answers!.map((a) => [a.name, 'data' in a ? a.data : '']), [['echo.default.msvc.kubelink', '192.168.0.100']]);
  const tcp = await tcpAsk(s.port, ask('echo.default.msvc.kubelink', 22));
  assert.equal(tcp.answers!.length, 1);
  for (const name of ['echo.default.svc.c2.kubelink', 'echo.default.svc.c1.kubelink']) {
    assert.equal(((await udpAsk(s.port, ask(name))) as DecodedPacket & { rcode: string }).rcode, 'REFUSED', name);
  }
  assert.equal(((await tcpAsk(s.port, ask('echo.default.svc.c2.kubelink'))) as DecodedPacket & { rcode: string }).rcode, 'REFUSED');
  assert.deepEqual(s.upstream.asked, [], 'nothing was forwarded for a peer');
});

test('the upstream client hands back the answer with the id of the query it was given (a relay can pass it on as is)', async (t) => {
  const upstream = await standInClusterDns();
  const clientOf = new UpstreamClient({ meshSourceAddress: LOOPBACK, timeoutMs: 1500, maxTcpAnswerBytes: 0xffff }, new FakeClock(0), () => 0.5);
  await clientOf.start();
  t.after(async () => {
    await clientOf.stop();
    await upstream.close();
  });
  for (const transport of ['udp', 'tcp'] as const) {
    const answer = await clientOf.exchange({ ip: LOOPBACK, port: upstream.port, route: 'local' }, ask('echo.default.svc.cluster.local', 0x1234), transport);
    assert.equal(dnsPacket.decode(answer).id, 0x1234, transport);
  }
});
