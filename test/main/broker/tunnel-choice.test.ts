import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseTunnel } from '../../../src/main/broker/tunnel-choice.js';

const LOW = 0xc0a8000b; // 192.168.0.11
const HIGH = 0xc0a8000c; // 192.168.0.12

test('a lone connection is used whatever its direction', () => {
  assert.deepEqual(chooseTunnel(undefined, { connId: 1, dialed: false }, LOW, HIGH), { keep: 1, close: [] });
  assert.deepEqual(chooseTunnel(undefined, { connId: 2, dialed: true }, HIGH, LOW), { keep: 2, close: [] });
});

test('simultaneous dials end with the same tunnel on both sides: the lower address dialed it', () => {
  // Connection A: dialed by LOW (LOW sees dialed=true, HIGH sees dialed=false).
  // Connection B: dialed by HIGH (LOW sees dialed=false, HIGH sees dialed=true).
  // Whatever order the two come up in, each side keeps connection A.
  const A = 10;
  const B = 20;
  for (const aFirst of [true, false]) {
    const lowActive = aFirst ? { connId: A, dialed: true } : { connId: B, dialed: false };
    const lowIncoming = aFirst ? { connId: B, dialed: false } : { connId: A, dialed: true };
    assert.equal(chooseTunnel(lowActive, lowIncoming, LOW, HIGH).keep, A);
    const highActive = aFirst ? { connId: A, dialed: false } : { connId: B, dialed: true };
    const highIncoming = aFirst ? { connId: B, dialed: true } : { connId: A, dialed: false };
    assert.equal(chooseTunnel(highActive, highIncoming, HIGH, LOW).keep, A);
  }
});

test('a newer connection of the same direction replaces the older one', () => {
  assert.deepEqual(chooseTunnel({ connId: 1, dialed: true }, { connId: 2, dialed: true }, LOW, HIGH), { keep: 2, close: [1] });
  assert.deepEqual(chooseTunnel({ connId: 1, dialed: false }, { connId: 2, dialed: false }, LOW, HIGH), { keep: 2, close: [1] });
});
