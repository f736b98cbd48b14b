import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { PeerListener } from '../../../src/main/broker/peer-listener.js';
import { createLogger } from '../../../src/shared/log.js';
import { loadNative } from '../../../src/shared/native.js';

/** Connects to the listener and resolves with whether the server closed the connection within `ms`. */
async function closedByServer(port: number, ms: number): Promise<boolean> {
  const client = net.connect(port, '127.0.0.1');
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
  });
  const port = await listener.listen(0, '127.0.0.1');
  try {
    assert.equal(await closedByServer(port, 200), false, 'first: handed over, kept open by the dup');
    assert.equal(await closedByServer(port, 200), false, 'second: handed over');
    for (let i = 0; i < 3; i++) assert.equal(await closedByServer(port, 2000), true, 'over the limit: closed at once');
    assert.equal(handed.length, 2);
    assert.equal(listener.refused, 3);
    assert.equal(lines.filter((l) => l.includes('too many TLS handshakes pending')).length, 1, 'one line for the burst');
  } finally {
    for (const fd of handed) native.close(fd);
    await listener.close();
  }
});
