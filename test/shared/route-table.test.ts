import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_LINK, NO_SHARD, RouteTable, linkRouteEntries, type RouteEntry } from '../../src/shared/route-table.js';
import { parseIpv4 } from '../../src/shared/cidr.js';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { WriterJob } from '../fixtures/route-table-writer.worker.js';

function ip(text: string): number {
  return parseIpv4(text)!;
}

/** Link i (1..n) of a mesh: service CIDR 100.64.(16*(i-1)).0/20 (continuing past
 *  100.64.255.255), cluster address 192.168.0.i. */
function meshEntries(links: number): RouteEntry[] {
  const entries: RouteEntry[] = [];
  for (let i = 1; i <= links; i++) {
    const network = ip('100.64.0.0') + (i - 1) * 4096;
    entries.push(...linkRouteEntries(i, { serviceCidr: { network, prefixLength: 20 }, clusterAddress: ip(`192.168.0.${i}`) }));
  }
  return entries;
}

test('a link routes both its service CIDR and its cluster address', () => {
  assert.deepEqual(linkRouteEntries(7, { serviceCidr: { network: ip('100.64.16.0'), prefixLength: 20 }, clusterAddress: ip('192.168.0.12') }), [
    { network: ip('100.64.16.0'), prefixLength: 20, linkId: 7 },
    { network: ip('192.168.0.12'), prefixLength: 32, linkId: 7 },
  ]);
});

test('lookup finds the link of a service address or a cluster address and nothing elsewhere', () => {
  const table = new RouteTable(RouteTable.allocate());
  table.publish(meshEntries(253));
  assert.equal(table.lookup(ip('100.64.0.1')), 1);
  assert.equal(table.lookup(ip('100.64.31.255')), 2);
  assert.equal(table.lookup(ip('192.168.0.1')), 1);
  assert.equal(table.lookup(ip('192.168.0.200')), 200);
  assert.equal(table.lookup(ip('192.168.0.253')), 253);
  assert.equal(table.lookup(ip('100.64.0.0') + 252 * 4096 + 5), 253);
  assert.equal(table.lookup(ip('100.64.0.0') + 253 * 4096), NO_LINK, 'past the last service CIDR');
  assert.equal(table.lookup(ip('192.168.0.254')), NO_LINK, 'no link has that cluster address');
  assert.equal(table.lookup(ip('192.168.0.0')), NO_LINK, 'the mesh CIDR itself is not a route');
  assert.equal(table.lookup(ip('10.250.0.3')), NO_LINK);
});

test('the longest prefix wins and addresses above 2^31 match', () => {
  const table = new RouteTable(RouteTable.allocate());
  table.publish([
    { network: ip('10.0.0.0'), prefixLength: 8, linkId: 1 },
    { network: ip('10.1.0.0'), prefixLength: 16, linkId: 2 },
    { network: ip('10.1.2.3'), prefixLength: 32, linkId: 3 },
    { network: ip('224.0.0.0'), prefixLength: 3, linkId: 4 },
    { network: ip('255.255.255.255'), prefixLength: 32, linkId: 5 },
  ]);
  assert.equal(table.lookup(ip('10.9.9.9')), 1);
  assert.equal(table.lookup(ip('10.1.9.9')), 2);
  assert.equal(table.lookup(ip('10.1.2.3')), 3);
  assert.equal(table.lookup(ip('250.0.0.1')), 4);
  assert.equal(table.lookup(ip('255.255.255.255')), 5);
  table.publish([{ network: 0, prefixLength: 0, linkId: 9 }]);
  assert.equal(table.lookup(ip('1.2.3.4')), 9, 'a default route');
});

test('a reader on another instance of the buffer sees each publish at its next lookup', () => {
  const sab = RouteTable.allocate({ capacityEntries: 8, maxLinks: 16 });
  const writer = new RouteTable(sab);
  const reader = new RouteTable(sab);
  assert.equal(reader.lookup(ip('100.64.0.1')), NO_LINK, 'empty before the first publish');
  writer.publish(meshEntries(2));
  assert.equal(reader.lookup(ip('100.64.0.1')), 1);
  assert.equal(reader.lookup(ip('192.168.0.2')), 2);
  writer.publish(meshEntries(1));
  assert.equal(reader.lookup(ip('100.64.16.1')), NO_LINK, 'link 2 withdrawn');
  writer.publish([]);
  assert.equal(reader.lookup(ip('100.64.0.1')), NO_LINK);
});

test('links start without a shard and follow setLinkShard', () => {
  const sab = RouteTable.allocate({ maxLinks: 300 });
  const writer = new RouteTable(sab);
  const reader = new RouteTable(sab);
  assert.equal(reader.shardOf(253), NO_SHARD);
  writer.setLinkShard(253, 1);
  assert.equal(reader.shardOf(253), 1);
  writer.setLinkShard(253, NO_SHARD);
  assert.equal(reader.shardOf(253), NO_SHARD);
  assert.equal(reader.shardOf(300), NO_SHARD, 'out of range is no shard, not an error');
  assert.equal(reader.shardOf(-1), NO_SHARD);
});

test('invalid tables are refused before the readers could see them', () => {
  const table = new RouteTable(RouteTable.allocate({ capacityEntries: 2, maxLinks: 4 }));
  table.publish([{ network: ip('10.0.0.0'), prefixLength: 8, linkId: 1 }]);
  assert.throws(() => table.publish(meshEntries(2)), RangeError, 'over capacity');
  assert.throws(() => table.publish([{ network: ip('10.0.0.1'), prefixLength: 8, linkId: 1 }]), RangeError, 'host bits');
  assert.throws(() => table.publish([{ network: 0, prefixLength: 33, linkId: 1 }]), RangeError);
  assert.throws(() => table.publish([{ network: 0, prefixLength: 0, linkId: 4 }]), RangeError, 'link id beyond maxLinks');
  assert.throws(() => table.setLinkShard(4, 0), RangeError);
  assert.throws(() => table.setLinkShard(1, -2), RangeError);
  assert.equal(table.lookup(ip('10.2.3.4')), 1, 'the last good table stays');
  assert.throws(() => new RouteTable(new SharedArrayBuffer(64)), RangeError);
  assert.throws(() => RouteTable.allocate({ maxLinks: 70000 }), RangeError);
});

test('a reader never compiles a half-written table while another thread publishes', async () => {
  const job: WriterJob = { table: RouteTable.allocate({ capacityEntries: 64 }), done: new SharedArrayBuffer(4), generations: 20_000 };
  const worker = new Worker(new URL('../fixtures/route-table-writer.worker.js', import.meta.url), { workerData: { role: 'route-table-writer', job } });
  try {
    const reader = new RouteTable(job.table);
    const compiled = reader as unknown as { maps: Map<number, number>[] };
    const done = new Int32Array(job.done);
    let checks = 0;
    while (Atomics.load(done, 0) === 0 || checks === 0) {
      reader.refresh();
      const maps = compiled.maps;
      if (maps.length === 0) continue; // before the first publish
      assert.equal(maps.length, 1);
      const links = new Set(maps[0]!.values());
      assert.equal(links.size, 1, 'all entries come from one generation');
      const generationLink = [...links][0]!;
      // Link g % 1000 and (g % 50) + 10 entries: 1000 is a multiple of 50, so the entry
      // count follows from the link id.
      assert.equal(maps[0]!.size, (generationLink % 50) + 10, 'entry count of that generation');
      checks++;
    }
    await once(worker, 'message');
    reader.refresh();
    assert.equal(reader.lookup(ip('10.0.1.2')), job.generations % 1000, 'the last generation wins');
  } finally {
    await worker.terminate();
  }
});
