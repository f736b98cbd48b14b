import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import { ShardSupervisor, type ShardInitTemplate } from '../../../src/main/broker/shard-supervisor.js';
import { silentLogger } from '../../../src/shared/log.js';
import { DEFAULT_SHARD_TUNABLES, type ShardToMain } from '../../../src/shared/shard-protocol.js';

const template = (shard: number): ShardInitTemplate => ({
  shardIndex: shard,
  toTunnelRing: new SharedArrayBuffer(8),
  tunFd: -1,
  counters: new SharedArrayBuffer(8),
  counterBlock: shard,
  local: { clusterAddress: 1, serviceCidr: { network: 0, prefixLength: 8 } },
  tls: { cert: '', key: '', ca: '' },
  tunables: DEFAULT_SHARD_TUNABLES,
  logLevel: 'error',
});

test('a shard whose worker dies is reported lost and started again; the other shard is untouched', async () => {
  const events = new EventEmitter();
  const lost: number[] = [];
  const supervisor = new ShardSupervisor(2, template, silentLogger, new URL('../../fixtures/crashing-shard.js', import.meta.url));
  const starts: number[] = [];
  events.on('started', (shard: number) => starts.push(shard));
  supervisor.start({
    shardLinks: () => [],
    onShardMessage: (shard: number, msg: ShardToMain) => {
      if (msg.type === 'closed' && msg.reason === 'started') events.emit('started', shard);
    },
    onShardLost: (shard: number) => lost.push(shard),
  });
  while (starts.length < 2) await once(events, 'started');
  assert.deepEqual([...starts].sort(), [0, 1]);

  supervisor.send(0, { type: 'dial', connId: 1, linkId: 0, host: 'x', port: 1 });
  const [restarted] = (await once(events, 'started')) as [number];
  assert.equal(restarted, 0);
  assert.deepEqual(lost, [0]);
  assert.equal(starts.filter((s) => s === 1).length, 1, 'shard 1 was not restarted');
  await supervisor.stop();
});

test('connections go to the least loaded shard', async () => {
  const supervisor = new ShardSupervisor(3, template, silentLogger, new URL('../../fixtures/crashing-shard.js', import.meta.url));
  assert.deepEqual([supervisor.assign(), supervisor.assign(), supervisor.assign(), supervisor.assign()], [0, 1, 2, 0]);
  supervisor.release(1);
  supervisor.release(1);
  assert.equal(supervisor.assign(), 1);
  await supervisor.stop();
});
