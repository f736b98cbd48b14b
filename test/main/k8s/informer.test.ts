import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResilientInformer } from '../../../src/main/k8s/informer.js';
import type { InformerEvent, InformerOptions } from '../../../src/main/k8s/informer.js';
import { FakeClock, settle } from '../../helpers/fake-clock.js';
import { FakeList, FakeWatch, obj } from './fake-watch.js';
import type { FakeObject } from './fake-watch.js';

interface Harness {
  clock: FakeClock;
  watch: FakeWatch;
  list: FakeList<FakeObject>;
  informer: ResilientInformer<FakeObject>;
  changes: string[][];
  events: string[];
}

const names = (items: FakeObject[]): string[] => items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);

function harness(options: Partial<InformerOptions<FakeObject>> = {}, initial: FakeObject[] = []): Harness {
  const clock = new FakeClock();
  const watch = new FakeWatch();
  const list = new FakeList<FakeObject>();
  list.items = initial;
  const changes: string[][] = [];
  const events: string[] = [];
  const informer = new ResilientInformer<FakeObject>({
    resource: 'things',
    path: '/apis/x/v1/things',
    list: list.fn,
    watch,
    clock,
    random: () => 1, // full backoff step: delays are exact
    onChange: (items) => changes.push(names(items)),
    onEvent: (e: InformerEvent<FakeObject>) => events.push(`${e.type}:${e.object.metadata.name}@${e.object.metadata.resourceVersion}`),
    ...options,
  });
  return { clock, watch, list, informer, changes, events };
}

async function started(h: Harness): Promise<void> {
  h.informer.start();
  await h.clock.advance(0);
  await h.informer.waitForSync();
}

test('the initial list is delivered at once as the full set, then a watch starts from its resourceVersion with bookmarks', async () => {
  const h = harness({ fieldSelector: 'metadata.name=a', watchTimeoutSeconds: 42 }, [obj('b', '3'), obj('a', '2')]);
  h.list.resourceVersion = '7';
  await started(h);
  assert.deepEqual(h.changes, [['a@2', 'b@3']]);
  assert.deepEqual(h.events.sort(), ['added:a@2', 'added:b@3']);
  assert.equal(h.watch.calls.length, 1);
  assert.equal(h.watch.last.path, '/apis/x/v1/things');
  assert.deepEqual(h.watch.last.query, {
    allowWatchBookmarks: true,
    timeoutSeconds: 42,
    labelSelector: undefined,
    fieldSelector: 'metadata.name=a',
    resourceVersion: '7',
  });
  assert.deepEqual(h.list.selectors[0], { labelSelector: undefined, fieldSelector: 'metadata.name=a' });
  await h.informer.stop();
});

test('watch events update the cache and a burst of changes is delivered as one onChange', async () => {
  const h = harness({ debounceMs: 50 }, [obj('a', '1')]);
  await started(h);
  h.watch.last.emit('ADDED', obj('b', '2'));
  h.watch.last.emit('MODIFIED', obj('a', '3'));
  h.watch.last.emit('DELETED', obj('b', '4'));
  h.watch.last.emit('ADDED', obj('c', '5'));
  assert.equal(h.changes.length, 1, 'not yet delivered: debounced');
  await h.clock.advance(50);
  assert.deepEqual(h.changes, [['a@1'], ['a@3', 'c@5']]);
  assert.deepEqual(h.events, ['added:a@1', 'added:b@2', 'updated:a@3', 'deleted:b@4', 'added:c@5']);
  assert.deepEqual(names(h.informer.items()), ['a@3', 'c@5']);
  assert.equal(h.informer.get('a')?.metadata.resourceVersion, '3');
  await h.informer.stop();
});

test('an event repeating the cached resourceVersion changes nothing', async () => {
  const h = harness({}, [obj('a', '1')]);
  await started(h);
  h.watch.last.emit('MODIFIED', obj('a', '1'));
  await h.clock.advance(1_000);
  assert.equal(h.changes.length, 1);
  assert.deepEqual(h.events, ['added:a@1']);
  await h.informer.stop();
});

test('after a watch error the informer retries with backoff doubling from 1 s to 30 s, without relisting', async () => {
  const h = harness();
  await started(h);
  const expected = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000];
  for (const delay of expected) {
    const before = h.watch.calls.length;
    h.watch.last.end(Object.assign(new Error('Internal Server Error'), { statusCode: 500 }));
    await h.clock.advance(delay - 1);
    assert.equal(h.watch.calls.length, before, `no retry before ${delay} ms`);
    await h.clock.advance(1);
    assert.equal(h.watch.calls.length, before + 1, `retry after ${delay} ms`);
  }
  assert.equal(h.list.calls, 1, 'a watch error keeps the resourceVersion: no relist');
  await h.informer.stop();
});

test('any watch event resets the backoff to its initial delay', async () => {
  const h = harness();
  await started(h);
  for (const delay of [1_000, 2_000, 4_000]) {
    h.watch.last.end(new Error('connection reset'));
    await h.clock.advance(delay);
  }
  h.watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '9' } });
  h.watch.last.end(new Error('connection reset'));
  const before = h.watch.calls.length;
  await h.clock.advance(1_000);
  assert.equal(h.watch.calls.length, before + 1);
  assert.equal(h.watch.last.query.resourceVersion, '9', 'the bookmark advanced the resourceVersion');
  await h.informer.stop();
});

test('a watch that cannot even connect is retried with backoff like any other error', async () => {
  const h = harness();
  await started(h);
  h.watch.failNext = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  h.watch.last.end(new Error('socket hang up'));
  await h.clock.advance(1_000);
  assert.equal(h.watch.calls.length, 2, 'first retry, refused');
  await h.clock.advance(1_999);
  assert.equal(h.watch.calls.length, 2);
  await h.clock.advance(1);
  assert.equal(h.watch.calls.length, 3, 'second retry after 2 s');
  await h.informer.stop();
});

test('a 410 Gone ERROR event relists at once and reconciles adds, updates and deletes made meanwhile', async () => {
  const h = harness({}, [obj('a', '1'), obj('b', '2'), obj('c', '3')]);
  await started(h);
  h.list.items = [obj('a', '1'), obj('b', '8'), obj('d', '9')];
  h.list.resourceVersion = '10';
  h.watch.last.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 3 (5)' });
  await h.clock.advance(0);
  assert.equal(h.list.calls, 2);
  assert.equal(h.watch.calls.length, 2);
  assert.equal(h.watch.last.query.resourceVersion, '10');
  assert.deepEqual(h.events.slice(3).sort(), ['added:d@9', 'deleted:c@3', 'updated:b@8']);
  await h.clock.advance(50);
  assert.deepEqual(h.changes.at(-1), ['a@1', 'b@8', 'd@9']);
  await h.informer.stop();
});

test('a watch refused with HTTP 410 relists at once', async () => {
  const h = harness();
  await started(h);
  h.watch.last.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
  await h.clock.advance(0);
  assert.equal(h.list.calls, 2);
  assert.equal(h.watch.calls.length, 2);
  await h.informer.stop();
});

test('repeated 410s after fresh lists back off instead of spinning', async () => {
  const h = harness();
  await started(h);
  h.watch.last.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
  await h.clock.advance(0);
  assert.equal(h.list.calls, 2);
  h.watch.last.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
  await h.clock.advance(999);
  assert.equal(h.list.calls, 2, 'second 410 in a row waits for the backoff');
  await h.clock.advance(1);
  assert.equal(h.list.calls, 3);
  await h.informer.stop();
});

test('a watch the library ends for inactivity (TimeoutError) is resumed at once from the last resourceVersion, without backoff or relist', async () => {
  const h = harness();
  await started(h);
  h.watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '5' } });
  // What Watch of client-node 2.x passes to done() when nothing arrived for 30 s.
  h.watch.last.end(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  await h.clock.advance(0);
  assert.equal(h.watch.calls.length, 2, 'watching again without waiting');
  assert.equal(h.watch.last.query.resourceVersion, '5');
  assert.equal(h.list.calls, 1, 'no relist needed');
  // Again and again: a quiet resource is re-watched every time, never backed off.
  h.watch.last.end(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  await h.clock.advance(0);
  assert.equal(h.watch.calls.length, 3);
  await h.informer.stop();
});

test('a periodic resync relists a healthy watch and applies what the list says', async () => {
  const h = harness({ resyncMs: 60_000 }, [obj('a', '1')]);
  await started(h);
  h.list.items = [obj('a', '1'), obj('z', '4')];
  await h.clock.advance(59_999);
  assert.equal(h.list.calls, 1);
  await h.clock.advance(1);
  assert.equal(h.list.calls, 2);
  assert.equal(h.watch.calls.length, 2);
  assert.deepEqual(h.events, ['added:a@1', 'added:z@4']);
  await h.clock.advance(60_000);
  assert.equal(h.list.calls, 3, 'and again one period after the last list');
  await h.informer.stop();
});

test('a failing list is retried with backoff, and waitForSync reports the last error on timeout', async () => {
  const h = harness();
  h.list.failure = Object.assign(new Error('HTTP-Code: 404\nMessage: Unknown'), { code: 404, body: '{"kind":"Status","code":404,"message":"the server could not find the requested resource"}' });
  h.list.failAlways = true;
  h.informer.start();
  const waited = h.informer.waitForSync(5_000).then(
    () => 'synced',
    (err: Error) => err.message,
  );
  await h.clock.advance(5_000);
  assert.match(await waited, /no successful list within 5000 ms \(last error: 404 the server could not find the requested resource\)/);
  assert.equal(h.list.calls, 3, 'at 0, 1 s and 3 s');
  h.list.failAlways = false;
  h.list.failure = undefined;
  await h.clock.advance(4_000);
  assert.equal(h.informer.synced, true);
  assert.equal(h.watch.calls.length, 1);
  await h.informer.stop();
});

test('a list that never answers times out and is retried', async () => {
  const h = harness({ listTimeoutMs: 5_000 });
  h.list.hang = true;
  h.informer.start();
  await h.clock.advance(5_000);
  assert.equal(h.list.calls, 1);
  h.list.hang = false;
  await h.clock.advance(1_000);
  assert.equal(h.list.calls, 2);
  assert.equal(h.informer.synced, true);
  await h.informer.stop();
});

test('a watch the server ends normally is resumed at once from the last resourceVersion', async () => {
  const h = harness();
  await started(h);
  h.watch.last.emit('ADDED', obj('a', '4'));
  await h.clock.advance(100_000);
  h.watch.last.end();
  await h.clock.advance(0);
  assert.equal(h.watch.calls.length, 2);
  assert.equal(h.watch.last.query.resourceVersion, '4');
  await h.informer.stop();
});

test('a watch that the server closes right away without events counts as a failure', async () => {
  const h = harness();
  await started(h);
  h.watch.last.end();
  await h.clock.advance(999);
  assert.equal(h.watch.calls.length, 1);
  await h.clock.advance(1);
  assert.equal(h.watch.calls.length, 2);
  await h.informer.stop();
});

test('events from an abandoned watch are ignored', async () => {
  const h = harness();
  await started(h);
  const old = h.watch.last;
  h.informer.resync();
  await h.clock.advance(0);
  assert.equal(h.watch.calls.length, 2);
  // A stale stream that still delivers (the abort raced with an event) must not count.
  old.emitLate('ADDED', obj('ghost', '99'));
  old.emitLate('ERROR', { code: 500, message: 'late' });
  await h.clock.advance(100);
  assert.equal(h.informer.get('ghost'), undefined);
  assert.equal(h.watch.calls.length, 2, 'a late error of the old watch does not restart the new one');
  await h.informer.stop();
});

test('stop aborts the watch, clears every timer and rejects a pending waitForSync', async () => {
  const h = harness();
  h.list.failure = new Error('down');
  h.list.failAlways = true;
  h.informer.start();
  const waited = h.informer.waitForSync().then(
    () => 'synced',
    (err: Error) => err.message,
  );
  await h.clock.advance(0);
  await h.informer.stop();
  assert.match(await waited, /stopped before the first list/);
  assert.equal(h.clock.pendingTimers, 0);

  const g = harness();
  await started(g);
  await g.informer.stop();
  assert.equal(g.watch.last.controller.signal.aborted, true);
  assert.equal(g.clock.pendingTimers, 0);
  await settle();
});

test('invalid tunables are rejected naming the option', () => {
  assert.throws(() => harness({ resyncMs: -1 }), /informer option resyncMs must be a finite number >= 0, got -1/);
});
