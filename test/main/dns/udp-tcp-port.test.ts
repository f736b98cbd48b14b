// bindUdpAndTcp: one port for both transports, a retry when port 0's pick is taken on TCP,
// and no socket left open when it gives up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { EPHEMERAL_PORT_ATTEMPTS, bindUdpAndTcp } from '../../../src/main/dns/udp-tcp-port.js';

const LOOPBACK = '127.0.0.1';

const listen = (server: net.Server, port: number): Promise<void> => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, LOOPBACK, () => resolve());
});
/**
 * A TCP server whose listen fails as it does when another process holds the port. The kernel
 * picks port 0's number, so a real conflict on it cannot be arranged; the fixed-port test
 * below has a real one.
 */
function takenServer(): net.Server {
  const server = net.createServer();
  server.listen = ((): net.Server => {
    process.nextTick(() => server.emit('error', Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' })));
    return server;
  }) as typeof server.listen;
  return server;
}

const closeTcp = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
const closeUdp = (socket: dgram.Socket): Promise<void> => new Promise((resolve) => socket.close(() => resolve()));

test('port 0: UDP and TCP listen on the same port', async () => {
  const { udp, tcp, port } = await bindUdpAndTcp(0, LOOPBACK, () => dgram.createSocket('udp4'), () => net.createServer());
  assert.equal(udp.address().port, port);
  assert.equal((tcp.address() as net.AddressInfo).port, port);
  await closeUdp(udp);
  await closeTcp(tcp);
});

test('port 0: when the UDP port is taken on TCP, the UDP socket is closed and another port is tried', async () => {
  const udps: dgram.Socket[] = [];
  let tcps = 0;
  const bound = await bindUdpAndTcp(0, LOOPBACK, () => {
    const socket = dgram.createSocket('udp4');
    udps.push(socket);
    return socket;
  }, () => (++tcps === 1 ? takenServer() : net.createServer()));
  try {
    // Usually the second port is free; on a busy machine it may be taken too (a real
    // conflict), and then a third is tried. Either way only the last socket stays open.
    assert.ok(udps.length >= 2, `a second port was tried (${udps.length} attempts)`);
    for (const abandoned of udps.slice(0, -1)) assert.throws(() => abandoned.address(), /not running/i, 'an abandoned UDP socket is closed');
    assert.equal(bound.udp, udps.at(-1));
    assert.equal(bound.udp.address().port, bound.port);
    assert.equal((bound.tcp.address() as net.AddressInfo).port, bound.port);
  } finally {
    await closeUdp(bound.udp);
    await closeTcp(bound.tcp);
  }
});

test('a fixed port taken on TCP: rejects with EADDRINUSE and leaves the UDP port free', async () => {
  const squatter = net.createServer();
  await listen(squatter, 0);
  const port = (squatter.address() as net.AddressInfo).port;
  let made = 0;
  await assert.rejects(bindUdpAndTcp(port, LOOPBACK, () => {
    made++;
    return dgram.createSocket('udp4');
  }, () => net.createServer()), { code: 'EADDRINUSE' });
  assert.equal(made, 1, 'a fixed port is tried once');
  const again = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => again.bind(port, LOOPBACK, () => resolve()));
  await closeUdp(again);
  await closeTcp(squatter);
});

test('port 0 gives up after a bounded number of attempts', async () => {
  let attempts = 0;
  const udps: dgram.Socket[] = [];
  await assert.rejects(bindUdpAndTcp(0, LOOPBACK, () => {
    const socket = dgram.createSocket('udp4');
    udps.push(socket);
    return socket;
  }, () => {
    attempts++;
    return takenServer();
  }), { code: 'EADDRINUSE' });
  assert.equal(attempts, EPHEMERAL_PORT_ATTEMPTS);
  for (const socket of udps) assert.throws(() => socket.address(), /not running/i, 'no UDP socket is left open');
});
