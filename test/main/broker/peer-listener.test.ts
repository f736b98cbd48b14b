import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { PeerListener } from '../../../src/main/broker/peer-listener.js';
import { createLogger } from '../../../src/shared/log.js';
import { loadNative } from '../../../src/shared/native.js';

/** Connects to the listener and resolves with whether the server closed the connection within `ms`. */
async function closedByServer(port: number, ms: number, localAddress = '127.0.0.1'): Promise<boolean> {
  const client = net.connect({ port, host: '127.0.0.1', localAddress });
  client.on('error', () => undefined);
  await once(client, 'connect');
  const closed = await Promise.race([once(client, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  client.destroy();
  return closed;
}

test('accepted sockets are handed over as dup()ed descriptors until the pending-handshake limit, then refused, counted and logged once per burst', async () => {
  const native = loadNative();
  const handed: number[] = [];
  const lines: string[] = [];
  const listener = new PeerListener(native, (fd) => handed.push(fd), createLogger({ write: (l) => lines.push(l) }), {
    pendingHandshakes: () => handed.length,
    maxPendingHandshakes: 2,
    pendingHandshakesFrom: () => 0,
    maxPendingPerAddress: Infinity,
  });
  const port = await listener.listen(0, '127.0.0.1');
  try {
    assert.equal(await closedByServer(port, 200), false, 'first: handed over, kept open by the dup');
    assert.equal(await closedByServer(port, 200), false, 'second: handed over');
    for (let i = 0; i < 3; i++) assert.equal(await closedByServer(port, 2000), true, 'over the limit: closed at once');
    assert.equal(handed.length, 2);
    assert.deepEqual(listener.refused, { 'pending-total': 3, 'pending-per-address': 0 });
    assert.equal(lines.filter((l) => l.includes('too many TLS handshakes pending')).length, 1, 'one line for the burst');
  } finally {
    for (const fd of handed) native.close(fd);
    await listener.close();
  }
});

test('one source address gets at most maxPendingPerAddress handshake slots; a peer from another address still gets in', async () => {
  const native = loadNative();
  const handed: { fd: number; address: string }[] = [];
  const lines: string[] = [];
  const listener = new PeerListener(native, (fd, _remote, address) => handed.push({ fd, address }), createLogger({ write: (l) => lines.push(l) }), {
    pendingHandshakes: () => handed.length,
    maxPendingHandshakes: 256,
    pendingHandshakesFrom: (address) => handed.filter((h) => h.address === address).length,
    maxPendingPerAddress: 2,
  });
  const port = await listener.listen(0, '127.0.0.1');
  try {
    // the flooding host: two slots, then refused
    assert.equal(await closedByServer(port, 200, '127.0.0.1'), false);
    assert.equal(await closedByServer(port, 200, '127.0.0.1'), false);
    for (let i = 0; i < 3; i++) assert.equal(await closedByServer(port, 2000, '127.0.0.1'), true, 'over the per-address limit: closed at once');
    // the real peer, from its own address
    assert.equal(await closedByServer(port, 200, '127.0.0.2'), false, 'another address is let in');
    assert.deepEqual(handed.map((h) => h.address), ['127.0.0.1', '127.0.0.1', '127.0.0.2']);
    assert.deepEqual(listener.refused, { 'pending-total': 0, 'pending-per-address': 3 });
    assert.equal(lines.filter((l) => l.includes('too many TLS handshakes pending from one address')).length, 1, 'one line for the burst');
  } finally {
    for (const h of handed) native.close(h.fd);
    await listener.close();
  }
});
