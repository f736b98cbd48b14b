// Decrypted TLS records read into one shared buffer, for a dialed socket and for one a
// tls.Server made around an accepted socket (as the shard's acceptor does). TLS 1.2 with
// a pre-shared key keeps certificates out of this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { readIntoBuffer } from '../../src/workers/tls-read-buffer.js';

const PSK = Buffer.alloc(32, 7);
const TLS_OPTIONS = { ciphers: 'PSK-AES128-GCM-SHA256', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const WAIT_LIMIT_MS = 15_000;

/** A connected pair: `accepted` made by a tls.Server from an accepted net.Socket, `dialed` by tls.connect. */
async function tlsPair(): Promise<{ accepted: tls.TLSSocket; dialed: tls.TLSSocket; close(): void }> {
  const listener = net.createServer({ pauseOnConnect: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const acceptor = tls.createServer({ ...TLS_OPTIONS, pskCallback: () => PSK });
  listener.on('connection', (raw: net.Socket) => acceptor.emit('connection', raw));
  const secure = once(acceptor, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const dialed = tls.connect({
    ...TLS_OPTIONS,
    port: (listener.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    pskCallback: () => ({ psk: PSK, identity: 'test' }),
    checkServerIdentity: () => undefined,
  });
  await once(dialed, 'secureConnect');
  const [accepted] = await secure;
  return {
    accepted,
    dialed,
    close: () => {
      dialed.destroy();
      accepted.destroy();
      listener.close();
    },
  };
}

/** Bytes that tell their position apart. */
function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Collects what arrives through the shared buffer (copies) and through 'data'. */
function receive(socket: tls.TLSSocket, shared: Buffer): { viaBuffer: Buffer[]; viaData: Buffer[]; inOrder: Buffer[]; switched: boolean } {
  const got = { viaBuffer: [] as Buffer[], viaData: [] as Buffer[], inOrder: [] as Buffer[], switched: false };
  got.switched = readIntoBuffer(socket, shared, (chunk) => {
    assert.equal(chunk.buffer, shared.buffer, 'the chunk is a view of the shared buffer');
    const copy = Buffer.from(chunk);
    got.viaBuffer.push(copy);
    got.inOrder.push(copy);
  });
  socket.on('data', (chunk: Buffer) => {
    got.viaData.push(chunk);
    got.inOrder.push(chunk);
  });
  return got;
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

const total = (chunks: Buffer[]) => chunks.reduce((sum, c) => sum + c.length, 0);

test('both ends of a TLS connection read into one shared buffer; every byte arrives in order, none as a data event', async () => {
  const { accepted, dialed, close } = await tlsPair();
  try {
    const shared = Buffer.alloc(64 * 1024);
    const atAcceptor = receive(accepted, shared);
    const atDialer = receive(dialed, shared);
    assert.ok(atAcceptor.switched && atDialer.switched);
    const toAcceptor = [pattern(100, 1), pattern(40_000, 2), pattern(70_000, 3)];
    const toDialer = [pattern(16_384, 4), pattern(5, 5)];
    for (const b of toAcceptor) dialed.write(b);
    for (const b of toDialer) accepted.write(b);
    await until('all bytes', () => total(atAcceptor.inOrder) === total(toAcceptor) && total(atDialer.inOrder) === total(toDialer));
    assert.deepEqual(Buffer.concat(atAcceptor.inOrder), Buffer.concat(toAcceptor));
    assert.deepEqual(Buffer.concat(atDialer.inOrder), Buffer.concat(toDialer));
    assert.equal(atAcceptor.viaData.length + atDialer.viaData.length, 0);
    assert.ok(atAcceptor.viaBuffer.length >= 3, 'records larger than 16 KiB arrive as several chunks');
  } finally {
    close();
  }
});

test('bytes read before the switch still arrive, as data events, ahead of those read into the buffer', async () => {
  const { accepted, dialed, close } = await tlsPair();
  try {
    const before = pattern(3000, 6);
    const after = pattern(50_000, 7);
    dialed.write(before);
    await until('the first bytes buffered in the accepted socket', () => accepted.readableLength === before.length);
    const got = receive(accepted, Buffer.alloc(64 * 1024));
    dialed.write(after);
    await until('all bytes', () => total(got.inOrder) === before.length + after.length);
    assert.deepEqual(Buffer.concat(got.inOrder), Buffer.concat([before, after]));
    assert.deepEqual(Buffer.concat(got.viaData), before);
    assert.deepEqual(Buffer.concat(got.viaBuffer), after);
  } finally {
    close();
  }
});

test('a socket without the onread slots is left alone', () => {
  const notASocket = new EventEmitter() as unknown as net.Socket;
  assert.equal(readIntoBuffer(notASocket, Buffer.alloc(16), () => assert.fail('no chunk expected')), false);
});
