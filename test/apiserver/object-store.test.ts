import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apiserver/api-types.js';
import { ObjectStore, type StoredEvent } from '../../apiserver/object-store.js';

const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });

test('every change takes the next server-wide resourceVersion, across resources', () => {
  const store = new ObjectStore();
  const start = store.resourceVersion();
  const a = store.create('/configmaps', cm('a'));
  const b = store.create('/secrets', { ...cm('b'), kind: 'Secret' });
  const a2 = store.update('/configmaps', { ...structuredClone(a), data: { k: 'v' } });
  const gone = store.delete('/secrets', 'default', 'b');
  assert.deepEqual([a, b, a2, gone].map((o) => Number(o.metadata.resourceVersion)), [start + 1, start + 2, start + 3, start + 4]);
  assert.equal(store.resourceVersion(), start + 4);
});

test('stored objects are frozen: in-place mutation throws instead of corrupting history', () => {
  const store = new ObjectStore();
  const stored = store.create('/configmaps', cm('a'));
  assert.throws(() => {
    (stored.metadata as { name: string }).name = 'b';
  }, TypeError);
});

test('subscribers get ADDED, MODIFIED (with the previous state) and DELETED (with the deletion version)', () => {
  const store = new ObjectStore();
  const events: StoredEvent[] = [];
  store.subscribe((e) => events.push(e));
  const a = store.create('/configmaps', cm('a'));
  store.update('/configmaps', { ...structuredClone(a), data: { k: 'v' } });
  store.delete('/configmaps', 'default', 'a');
  assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
  assert.deepEqual(events[1].previous?.data, {});
  assert.equal(events[2].object.metadata.resourceVersion, String(events[2].resourceVersion));
});

test('eventsAfter replays the history after a version; versions older than the bounded history are gone', () => {
  const store = new ObjectStore({ watchHistorySize: 2 });
  const start = store.resourceVersion();
  assert.deepEqual(store.eventsAfter(start), []);
  store.create('/configmaps', cm('a'));
  store.create('/configmaps', cm('b'));
  store.create('/configmaps', cm('c'));
  assert.equal(store.eventsAfter(start), undefined, 'event start+1 was compacted away');
  assert.deepEqual(store.eventsAfter(start + 1)?.map((e) => e.object.metadata.name), ['b', 'c']);
  assert.deepEqual(store.eventsAfter(start + 3), []);
  assert.equal(store.oldestResumableResourceVersion(), start + 1);
});

test('list returns one resource sorted by namespace and name, optionally one namespace', () => {
  const store = new ObjectStore();
  store.create('/configmaps', { ...cm('b'), metadata: { name: 'b', namespace: 'x' } });
  store.create('/configmaps', cm('z'));
  store.create('/configmaps', cm('a'));
  assert.deepEqual(store.list('/configmaps').map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ['default/a', 'default/z', 'x/b']);
  assert.deepEqual(store.list('/configmaps', 'x').map((o) => o.metadata.name), ['b']);
});

test('a snapshot restores objects and the counter; the history starts empty at the restored version', () => {
  const store = new ObjectStore();
  store.create('/configmaps', cm('a'));
  const snapshot = structuredClone(store.snapshot());
  const restored = new ObjectStore({}, snapshot);
  assert.equal(restored.resourceVersion(), store.resourceVersion());
  assert.deepEqual(restored.get('/configmaps', 'default', 'a'), store.get('/configmaps', 'default', 'a'));
  assert.deepEqual(restored.eventsAfter(restored.resourceVersion()), []);
  assert.equal(restored.eventsAfter(restored.resourceVersion() - 1), undefined);
  assert.equal(Number(restored.create('/configmaps', cm('b')).metadata.resourceVersion), store.resourceVersion() + 1);
});
