// The route batcher against the kernel, inside a namespace of its own (root).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkRouteBatcher } from '../../../src/main/net/route-batcher.js';
import { NLM_F_REQUEST, RT_TABLE_MAIN, RTM_GETLINK } from '../../../src/main/net/rtnetlink.js';
import type { KernelRoute } from '../../../src/main/net/rtnetlink.js';
import { loadNative } from '../../../src/shared/native.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';
import { createNodeNamespace } from '../../helpers/node-namespace.js';
import type { NodeNamespace } from '../../helpers/node-namespace.js';

const ip4 = (text: string) => parseIpv4(text)!;
let node: NodeNamespace;
let batcher: NetlinkRouteBatcher;

before(() => {
  node = createNodeNamespace('rb', '10.250.0.3/24');
  batcher = new NetlinkRouteBatcher({ netns: node.name });
});

after(() => {
  batcher?.close();
  node?.remove();
});

function serviceRoute(i: number, oif: number): KernelRoute {
  return { destination: { network: ip4('100.64.0.0') + i * 4096, prefixLength: 20 }, table: RT_TABLE_MAIN, protocol: 211, type: 'unicast', oif };
}

test('252 routes in one batch: the one invalid route fails alone with its own error, the other 251 are installed', async () => {
  const eth0 = (await batcher.linkIndexes(['eth0'])).get('eth0');
  assert.equal(typeof eth0, 'number');
  const changes = Array.from({ length: 252 }, (_, i) => ({ op: 'add' as const, route: serviceRoute(i, eth0 as number) }));
  // Invalid: a next hop that is not on any connected network.
  changes[137] = { op: 'add', route: { ...serviceRoute(137, eth0 as number), gateway: ip4('172.31.9.9') } };
  const acks = await batcher.apply(changes);
  assert.equal(acks.length, 252);
  const failed = acks.flatMap((a, i) => (a.errno === 0 ? [] : [[i, a.code]]));
  assert.deepEqual(failed, [[137, 'ENETUNREACH']]);
  assert.equal(node.routes(211).length, 251);
  assert.ok(!node.routes(211).some((line) => line.startsWith('100.72.144.0/20')), 'the invalid route (index 137) is not there');
  assert.ok(node.routes(211).some((line) => line.startsWith('100.72.160.0/20')), 'its neighbour is');

  const dumped = await batcher.dumpRoutes(211);
  assert.equal(dumped.length, 251);
  assert.ok(dumped.every((r) => r.oif === eth0 && r.protocol === 211));

  // A second add of the same routes: each one its own EEXIST.
  const again = await batcher.apply(changes.slice(0, 3));
  assert.deepEqual(again.map((a) => a.code), ['EEXIST', 'EEXIST', 'EEXIST']);

  const removal = await batcher.apply(dumped.map((route) => ({ op: 'delete' as const, route })));
  assert.ok(removal.every((a) => a.errno === 0));
  assert.deepEqual(node.routes(211), []);
});

test('the dump lists only its own protocol; link lookups name missing devices', async () => {
  node.ip('route', 'add', '100.70.0.0/16', 'dev', 'eth0', 'proto', 'static');
  node.ip('route', 'add', '100.71.0.0/16', 'dev', 'eth0', 'proto', '212');
  try {
    const routes = await batcher.dumpRoutes(212);
    assert.deepEqual(routes.map((r) => r.destination.network), [ip4('100.71.0.0')]);
    const indexes = await batcher.linkIndexes(['eth0', 'klnosuch']);
    const missing = indexes.get('klnosuch');
    assert.equal(typeof missing === 'object' && missing.code, 'ENODEV');
    const names = await batcher.linkNames([indexes.get('eth0') as number, 999_999]);
    assert.deepEqual([...names.values()], ['eth0']);
  } finally {
    node.ip('route', 'del', '100.70.0.0/16', 'dev', 'eth0', 'proto', 'static');
    node.ip('route', 'del', '100.71.0.0/16', 'dev', 'eth0', 'proto', '212');
  }
});

test('the native exchange refuses a request whose messages would not all be answered', async () => {
  const native = loadNative();
  const fd = native.netlinkOpen(`/run/netns/${node.name}`);
  try {
    const msg = Buffer.alloc(32);
    msg.writeUInt32LE(32, 0);
    msg.writeUInt16LE(RTM_GETLINK, 4);
    msg.writeUInt16LE(NLM_F_REQUEST, 6); // neither NLM_F_ACK nor a dump
    assert.throws(() => native.netlinkExchange(fd, msg, 1000), /needs NLM_F_REQUEST and NLM_F_ACK or NLM_F_DUMP/);
    const short = Buffer.alloc(20);
    short.writeUInt32LE(40, 0);
    assert.throws(() => native.netlinkExchange(fd, short, 1000), /bad nlmsg_len/);
    assert.throws(() => native.netlinkOpen('/run/netns/klnosuchns'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && /klnosuchns/.test(err.message));
  } finally {
    native.close(fd);
  }
});
