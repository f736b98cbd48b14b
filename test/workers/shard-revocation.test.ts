// A CRL in the shard's TLS material: new handshakes with a revoked certificate fail in
// both directions (accepted and dialed), and a CRL arriving later closes the running
// connections whose peer certificate it revokes, leaving the others alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import runShard from '../../src/workers/shard.js';
import { loadNative } from '../../src/shared/native.js';
import { SpscRing } from '../../src/shared/spsc-ring.js';
import { CounterBlocks } from '../../src/shared/counters.js';
import { compileInboundPeer } from '../../src/shared/inbound-filter.js';
import { ALPN_PROTOCOL } from '../../src/shared/wire.js';
import { DEFAULT_SHARD_TUNABLES, type ShardLink, type ShardToMain, type TlsMaterial } from '../../src/shared/shard-protocol.js';
import { certificateSerial, createCa, issueCertificate, issueCrl, type IssuedCertificate } from '../../src/main/certs/pki.js';

const WAIT_LIMIT_MS = 15_000;

function shardLink(linkId: number, host: string, clusterAddress: number): ShardLink {
  const serviceCidr = { network: (0x64401000 + linkId * 0x1000) >>> 0, prefixLength: 20 };
  return { linkId, name: host.split('.')[1]!, endpointHost: host, endpointPort: 8088, clusterAddress, serviceCidr, inbound: compileInboundPeer({ clusterAddress, serviceCidr }) };
}

async function until<T>(what: string, get: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a CRL refuses revoked peers in new handshakes both ways and closes the running connection of a revoked peer', async () => {
  const ca = await createCa({ commonName: 'kubelink test CA', validDays: 1 });
  const issue = (host: string) => issueCertificate(ca, { commonName: host, dnsNames: [host], validDays: 1 });
  const [local, stolen, other] = await Promise.all([issue('broker.c1.lab'), issue('broker.c2.lab'), issue('broker.c3.lab')]);
  const material: TlsMaterial = { cert: local.certPem, key: local.keyPem, ca: ca.certPem };

  const { port1, port2 } = new MessageChannel();
  const closed = new Map<number, { reason: string; handshakeFailure: boolean }>();
  port1.on('message', (msg: ShardToMain) => {
    if (msg.type === 'closed') closed.set(msg.connId, { reason: msg.reason, handshakeFailure: msg.handshakeFailure });
  });
  const run = runShard({
    shardIndex: 0,
    port: port2,
    toTunnelRing: SpscRing.allocate(1 << 16),
    // Nothing is received for the TUN here: a descriptor that is never written.
    tunFd: -1,
    counters: CounterBlocks.allocate(1),
    counterBlock: 0,
    local: { clusterAddress: 0xc0a8000b, serviceCidr: { network: 0x64400000, prefixLength: 20 } },
    tls: material,
    links: [shardLink(0, 'broker.c2.lab', 0xc0a8000c), shardLink(1, 'broker.c3.lab', 0xc0a8000d)],
    // The peers here never send their hello: only the CRL may close them, not the handshake deadline.
    tunables: { ...DEFAULT_SHARD_TUNABLES, handshakeTimeoutMs: 600_000 },
    logLevel: 'error',
  });

  // Accepted connections reach the shard as dup()ed descriptors, as from the peer listener.
  const listener = net.createServer({ pauseOnConnect: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  let nextConnId = 1;
  const peers: tls.TLSSocket[] = [];
  /** A peer dialing the shard with `cert`; resolves with its connId once the shard's hello arrived (or the socket closed). */
  const dialIn = async (cert: IssuedCertificate): Promise<{ connId: number; socket: tls.TLSSocket; helloSeen: boolean }> => {
    const connId = nextConnId++;
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    const socket = tls.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'broker.c1.lab', cert: cert.certPem, key: cert.keyPem, ca: ca.certPem, ALPNProtocols: [ALPN_PROTOCOL] });
    socket.on('error', () => undefined);
    peers.push(socket);
    const [raw] = await accepted;
    const fd = loadNative().dup((raw as net.Socket & { _handle: { fd: number } })._handle.fd);
    raw.destroy();
    port1.postMessage({ type: 'adopt', connId, fd, remote: `peer-${connId}` });
    const helloSeen = await Promise.race([once(socket, 'data').then(() => true), once(socket, 'close').then(() => false)]);
    return { connId, socket, helloSeen };
  };

  // A tls.Server standing for a remote broker that the shard dials.
  const remote = (cert: IssuedCertificate) => {
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ca: ca.certPem, requestCert: true, ALPNProtocols: [ALPN_PROTOCOL] }, () => undefined);
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    return server;
  };

  try {
    // Before the CRL: both peers get in (the shard sends its hello after the TLS handshake).
    const victim = await dialIn(stolen);
    const bystander = await dialIn(other);
    assert.ok(victim.helloSeen && bystander.helloSeen);

    // The stolen certificate is revoked: the shard gets material with the CRL, as on a reload.
    const crl = issueCrl(ca, { revokedSerials: [certificateSerial(stolen.certPem)], validDays: 1 });
    port1.postMessage({ type: 'tls', tls: { ...material, crl } });
    const victimClosed = await until('the revoked peer closed', () => closed.get(victim.connId));
    assert.match(victimClosed.reason, /^peer certificate serial [0-9A-F]+ is revoked by the CRL$/);
    assert.equal(closed.get(bystander.connId), undefined, 'the peer with a valid certificate keeps its connection');

    // A new connection with the revoked certificate fails its handshake.
    const again = await dialIn(stolen);
    assert.equal(again.helloSeen, false, 'no hello for a revoked peer');
    const againClosed = await until('the revoked peer refused', () => closed.get(again.connId));
    assert.equal(againClosed.handshakeFailure, true);

    // Dialing out to an endpoint whose server certificate is revoked fails too.
    const revokedRemote = remote(stolen);
    await once(revokedRemote, 'listening');
    port1.postMessage({ type: 'dial', connId: 100, linkId: 0, host: '127.0.0.1', port: (revokedRemote.address() as net.AddressInfo).port });
    const dialClosed = await until('the dial to a revoked server', () => closed.get(100));
    assert.match(dialClosed.reason, /certificate revoked/);
    revokedRemote.close();
    assert.equal(closed.get(bystander.connId), undefined);
  } finally {
    for (const p of peers) p.destroy();
    listener.close();
    port1.postMessage({ type: 'stop' });
    await run;
    port1.close();
  }
});
