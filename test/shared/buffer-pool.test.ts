import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../../src/shared/buffer-pool.js';

test('a buffer given back is handed out again, also when given back as a view into it', () => {
  const pool = new BufferPool(4);
  const first = pool.get(1024);
  assert.equal(first.length, 1024);
  pool.put(first.subarray(7, 300));
  assert.equal(pool.freeCount, 1);
  const again = pool.get(1024);
  assert.equal(again.buffer, first.buffer);
  assert.equal(again.length, 1024);
  assert.equal(pool.reused, 1);
  assert.notEqual(pool.get(1024).buffer, first.buffer, 'nothing free: a new one');
});

test('memory of another size (a copied-out batch, Node\'s shared slab) is never taken in', () => {
  const pool = new BufferPool(4);
  pool.get(1024);
  pool.put(Buffer.allocUnsafe(100)); // a view into Node's 8 KiB slab
  pool.put(Buffer.allocUnsafeSlow(512));
  pool.put(new Uint8Array(new SharedArrayBuffer(1024)));
  assert.equal(pool.freeCount, 0);
});

test('at most maxFree buffers wait, and asking for another size drops them', () => {
  const pool = new BufferPool(2);
  const taken = [pool.get(64), pool.get(64), pool.get(64)];
  for (const buffer of taken) pool.put(buffer);
  assert.equal(pool.freeCount, 2);
  assert.equal(pool.get(128).length, 128);
  assert.equal(pool.freeCount, 0);
  assert.throws(() => new BufferPool(-1), /maxFree must be a non-negative integer, got -1/);
});
