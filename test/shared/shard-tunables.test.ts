import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SHARD_TUNABLES,
  MAX_TUNNEL_QUEUE_BYTES,
  MAX_WRITE_BATCH_BYTES,
  MIN_TUNNEL_QUEUE_BYTES,
  validateShardTunables,
  type ShardTunables,
} from '../../src/shared/shard-protocol.js';
import { MAX_FRAME_PAYLOAD } from '../../src/shared/wire.js';
import { parseFlags } from '../../src/main/flags.js';

const tunables = (over: Partial<ShardTunables>): ShardTunables => ({ ...DEFAULT_SHARD_TUNABLES, ...over });

test('the default tunables are valid', () => {
  assert.deepEqual(validateShardTunables({ ...DEFAULT_SHARD_TUNABLES }), DEFAULT_SHARD_TUNABLES);
});

test('a bad tunable is refused naming the tunable, the accepted range and the value', () => {
  assert.throws(() => validateShardTunables(tunables({ keepaliveMs: 0 })), { name: 'RangeError', message: 'shard tunable keepaliveMs must be an integer in 100..60000, got 0' });
  assert.throws(() => validateShardTunables(tunables({ handshakeTimeoutMs: 1.5 })), /shard tunable handshakeTimeoutMs must be an integer in 100\.\.600000, got 1\.5/);
  assert.throws(() => validateShardTunables(tunables({ maxFramePayload: MAX_FRAME_PAYLOAD + 1 })), /maxFramePayload must be an integer in 1\.\.65535/);
  assert.throws(() => validateShardTunables(tunables({ writeBatchBytes: MAX_WRITE_BATCH_BYTES + 1 })), /writeBatchBytes must be an integer in 1\.\.65536/);
  assert.throws(() => validateShardTunables(tunables({ writeBatchBytes: Number.NaN })), /writeBatchBytes/);
});

test('timers that depend on each other are checked together', () => {
  // A tunnel must survive one late keepalive.
  assert.doesNotThrow(() => validateShardTunables(tunables({ keepaliveMs: 1_000, deadAfterMs: 2_000 })));
  assert.throws(() => validateShardTunables(tunables({ keepaliveMs: 1_000, deadAfterMs: 1_999 })), /deadAfterMs must be an integer in 2000\.\.600000, got 1999/);
  // The ClientHello deadline lies within the handshake's.
  assert.throws(() => validateShardTunables(tunables({ handshakeTimeoutMs: 1_000, clientHelloTimeoutMs: 1_001 })), /clientHelloTimeoutMs must be an integer in 100\.\.1000/);
  // The CoDel target is at most its interval (0 turns CoDel off).
  assert.doesNotThrow(() => validateShardTunables(tunables({ queueDelayTargetMs: 0 })));
  assert.throws(() => validateShardTunables(tunables({ queueDelayTargetMs: 30, queueDelayIntervalMs: 20 })), /queueDelayTargetMs must be an integer in 0\.\.20, got 30/);
  assert.throws(() => validateShardTunables(tunables({ queueDelayIntervalMs: 0 })), /queueDelayIntervalMs must be an integer in 1\.\.10000, got 0/);
});

test('maxQueuedBytes has the limits of --tunnel-queue', () => {
  assert.doesNotThrow(() => validateShardTunables(tunables({ maxQueuedBytes: MIN_TUNNEL_QUEUE_BYTES })));
  assert.doesNotThrow(() => validateShardTunables(tunables({ maxQueuedBytes: MAX_TUNNEL_QUEUE_BYTES })));
  assert.throws(() => validateShardTunables(tunables({ maxQueuedBytes: MIN_TUNNEL_QUEUE_BYTES - 1 })), /maxQueuedBytes/);
  assert.throws(() => validateShardTunables(tunables({ maxQueuedBytes: MAX_TUNNEL_QUEUE_BYTES + 1 })), /maxQueuedBytes/);
  const broker = ['--controllers=broker', '--link-address=192.168.0.11/24', '--service-cidr=100.64.0.0/20', '--certfile=c', '--keyfile=k', '--cacertfile=ca'];
  for (const bytes of [MIN_TUNNEL_QUEUE_BYTES, MAX_TUNNEL_QUEUE_BYTES]) {
    const { tunnelQueueBytes } = parseFlags([...broker, `--tunnel-queue=${bytes}`], {});
    assert.doesNotThrow(() => validateShardTunables(tunables({ maxQueuedBytes: tunnelQueueBytes })));
  }
  assert.throws(() => parseFlags([...broker, `--tunnel-queue=${MIN_TUNNEL_QUEUE_BYTES - 1}`], {}), /--tunnel-queue/);
  assert.throws(() => parseFlags([...broker, `--tunnel-queue=${MAX_TUNNEL_QUEUE_BYTES + 1}`], {}), /--tunnel-queue/);
});
