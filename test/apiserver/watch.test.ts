import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apiserver/api-types.js';
import { parseListFilter } from '../../apiserver/list-filter.js';
import type { StoredEvent } from '../../apiserver/object-store.js';
import { builtinResourceTypes } from '../../apiserver/builtin-resources.js';
import { translateEvent } from '../../apiserver/watch.js';
import { startApiServer, type RunningApiServer } from '../../apiserver/server.js';

const configmaps = builtinResourceTypes().find((t) => t.plural === 'configmaps')!;
const cm = (labels: Record<string, string>, rv = 10): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default', labels, resourceVersion: String(rv) } });
const event = (type: StoredEvent['type'], object: KubeObject, previous?: KubeObject): StoredEvent => ({ resourceVersion: 10, type, storageKey: '/configmaps', object, previous });
const selected = parseListFilter(configmaps, 'default', 'app=kubelink', null);

test('a change that moves an object into a selection is ADDED, out of it DELETED, within it MODIFIED', () => {
  const inSel = cm({ app: 'kubelink' });
  const outSel = cm({ app: 'other' });
  assert.equal(translateEvent(event('MODIFIED', inSel, outSel), '/configmaps', selected)?.type, 'ADDED');
  assert.equal(translateEvent(event('MODIFIED', outSel, inSel), '/configmaps', selected)?.type, 'DELETED');
  assert.equal(translateEvent(event('MODIFIED', inSel, inSel), '/configmaps', selected)?.type, 'MODIFIED');
  assert.equal(translateEvent(event('MODIFIED', outSel, outSel), '/configmaps', selected), undefined);
  assert.equal(translateEvent(event('DELETED', inSel, inSel), '/configmaps', selected)?.type, 'DELETED');
  assert.equal(translateEvent(event('ADDED', inSel), '/secrets', selected), undefined, 'other resources are not seen');
});

test('a namespace-scoped watch does not see other namespaces', () => {
  const other = { ...cm({ app: 'kubelink' }), metadata: { name: 'x', namespace: 'other', labels: { app: 'kubelink' } } };
  assert.equal(translateEvent(event('ADDED', other), '/configmaps', selected), undefined);
});

describe('watch over HTTP', () => {
  let server: RunningApiServer;
  const base = (): string => `${server.url}/api/v1/namespaces/default/configmaps`;
  before(async () => {
    server = await startApiServer({ watchHistorySize: 3 });
  });
  after(async () => server.close());

  async function readLines(url: string, until: (lines: string[]) => boolean): Promise<string[]> {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let text = '';
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
      const lines = text.split('\n').filter((l) => l !== '');
      if (until(lines)) {
        await reader.cancel();
        return lines;
      }
    }
    return text.split('\n').filter((l) => l !== '');
  }

  const post = (name: string): Promise<Response> =>
    fetch(base(), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ metadata: { name } }) });

  test('a watch without resourceVersion starts with ADDED for each existing object', async () => {
    await post('first');
    const lines = await readLines(`${base()}?watch=true`, (l) => l.length >= 1);
    assert.deepEqual(JSON.parse(lines[0]).type, 'ADDED');
    assert.equal(JSON.parse(lines[0]).object.metadata.name, 'first');
  });

  test('a watch from a resourceVersion replays later changes in order, then follows live ones', async () => {
    const from = server.resourceVersion();
    await post('second');
    let posted = false;
    const lines = (
      await readLines(`${base()}?watch=1&resourceVersion=${from}`, (l) => {
        // The replayed event has arrived, so the watch is live: now make a new change.
        if (l.length === 1 && !posted) {
          posted = true;
          void post('third');
        }
        return l.length >= 2;
      })
    ).map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED second', 'ADDED third']);
    assert.ok(Number(lines[1].object.metadata.resourceVersion) > Number(lines[0].object.metadata.resourceVersion));
  });

  test('a watch from a compacted resourceVersion gets one ERROR event with 410 Expired and the stream ends', async () => {
    const from = server.resourceVersion();
    for (const n of ['c1', 'c2', 'c3', 'c4']) await post(n);
    const lines = await readLines(`${base()}?watch=true&resourceVersion=${from}`, () => false);
    assert.equal(lines.length, 1);
    const e = JSON.parse(lines[0]);
    assert.equal(e.type, 'ERROR');
    assert.deepEqual({ kind: e.object.kind, code: e.object.code, reason: e.object.reason }, { kind: 'Status', code: 410, reason: 'Expired' });
    assert.match(e.object.message, new RegExp(`too old resource version: ${from} \\(\\d+\\)`));
  });

  test('a watch from a version the server never reached (it lost its state) also gets 410, so clients relist', async () => {
    const lines = await readLines(`${base()}?watch=true&resourceVersion=${server.resourceVersion() + 1000}`, () => false);
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).object.code, 410);
  });

  test('sendInitialEvents with bookmarks ends the initial ADDED events with an initial-events-end BOOKMARK', async () => {
    const lines = await readLines(`${base()}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`, (l) => l.some((x) => x.includes('BOOKMARK')));
    const last = JSON.parse(lines[lines.length - 1]);
    assert.equal(last.type, 'BOOKMARK');
    assert.equal(last.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.ok(lines.slice(0, -1).every((l) => JSON.parse(l).type === 'ADDED'));
  });

  test('a non-numeric resourceVersion is a 400', async () => {
    const res = await fetch(`${base()}?watch=true&resourceVersion=abc`);
    assert.equal(res.status, 400);
  });

  test('close() ends open watches', async () => {
    const other = await startApiServer();
    const res = await fetch(`${other.url}/api/v1/namespaces?watch=true`);
    const body = res.text();
    await other.close();
    assert.match(await body, /"ADDED"/);
  });
});
