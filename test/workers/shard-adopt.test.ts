// A shard adopting accepted sockets: every adopted connection ends in exactly one 'closed'
// report, also when the peer reset it before the shard got to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fstatSync, openSync } from 'node:fs';
import runShard from '../../src/workers/shard.js';
import { loadNative } from '../../src/shared/native.js';
import { SpscRing } from '../../src/shared/spsc-ring.js';
import { CounterBlocks } from '../../src/shared/counters.js';
import { DEFAULT_SHARD_TUNABLES, type ShardInit, type ShardToMain, type ShardTunables, type TlsMaterial } from '../../src/shared/shard-protocol.js';

/** The fd (dup()ed, as the peer listener hands it over) of an accepted connection the client has reset. */
async function resetConnectionFd(server: net.Server): Promise<number> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [socket] = await accepted;
  client.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 50));
  const fd = loadNative().dup((socket as net.Socket & { _handle: { fd: number } })._handle.fd);
  socket.destroy();
  return fd;
}


/** A shard running in this thread, with the 'closed' reports it sends. */
function startShard(tunables: Partial<ShardTunables> = {}): { port1: MessagePort; closed: number[]; reasons: Map<number, string>; run: Promise<unknown> } {
  const { port1, port2 } = new MessageChannel();
  const closed: number[] = [];
  const reasons = new Map<number, string>();
  port1.on('message', (msg: ShardToMain) => {
    if (msg.type === 'closed') {
      closed.push(msg.connId);
      reasons.set(msg.connId, msg.reason);
    }
  });
  const ring = () => SpscRing.allocate(1 << 16);
  const init: ShardInit = {
    shardIndex: 0,
    port: port2,
    toTunnelRing: ring(),
    // No packets reach this shard's TUN side: a descriptor that is never written.
    tunFd: -1,
    counters: CounterBlocks.allocate(1),
    counterBlock: 0,
    local: { clusterAddress: 0xc0a8000b, serviceCidr: { network: 0x64400000, prefixLength: 20 } },
    tls: {} as TlsMaterial,
    links: [],
    tunables: { ...DEFAULT_SHARD_TUNABLES, ...tunables },
    logLevel: 'error',
  };
  return { port1, closed, reasons, run: runShard(init) };
}

test('two adopted connections the peer reset before their handshake are each reported closed', async () => {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fds = [await resetConnectionFd(server), await resetConnectionFd(server)];
  server.close();

  const { port1, closed, run } = startShard();
  port1.postMessage({ type: 'adopt', connId: 1, fd: fds[0], remote: 'a' });
  port1.postMessage({ type: 'adopt', connId: 2, fd: fds[1], remote: 'b' });
  for (let i = 0; i < 100 && closed.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  port1.postMessage({ type: 'stop' });
  await run;
  port1.close();
  assert.deepEqual(closed.sort(), [1, 2]);
});

test('a descriptor that is not a socket is reported closed and closed, not leaked', async () => {
  const fd = openSync('/dev/null', 'r');
  const { port1, closed, run } = startShard();
  port1.postMessage({ type: 'adopt', connId: 7, fd, remote: 'x' });
  for (let i = 0; i < 100 && closed.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  port1.postMessage({ type: 'stop' });
  await run;
  port1.close();
  assert.deepEqual(closed, [7]);
  assert.throws(() => fstatSync(fd), { code: 'EBADF' });
});

/** An accepted connection's dup()ed fd, with the client end (still open) to write to. */
async function acceptedFd(server: net.Server): Promise<{ fd: number; client: net.Socket }> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  const [socket] = await accepted;
  const fd = loadNative().dup((socket as net.Socket & { _handle: { fd: number } })._handle.fd);
  socket.destroy();
  return { fd, client };
}

test('an accepted connection that sends no ClientHello is closed after clientHelloTimeoutMs, one that began its handshake is not', async () => {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const silent = await acceptedFd(server);
  const talking = await acceptedFd(server);
  server.close();
  // The handshake deadline is far away: only the ClientHello deadline can close the silent one.
  const { port1, closed, reasons, run } = startShard({ keepaliveMs: 20, clientHelloTimeoutMs: 50, handshakeTimeoutMs: 600_000 });
  try {
    talking.client.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])); // a TLS record header, body still to come
    port1.postMessage({ type: 'adopt', connId: 1, fd: silent.fd, remote: 'silent' });
    port1.postMessage({ type: 'adopt', connId: 2, fd: talking.fd, remote: 'talking' });
    for (let i = 0; i < 1000 && !closed.includes(1); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(reasons.get(1) ?? 'not closed', /^silent sent no TLS ClientHello within 50 ms$/);
    // several more ticks: the one that sent bytes keeps its (long) handshake deadline
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(closed, [1]);
  } finally {
    port1.postMessage({ type: 'stop' });
    await run;
    port1.close();
    silent.client.destroy();
    talking.client.destroy();
  }
});
