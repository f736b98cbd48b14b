import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch, JsonPatchError } from '../../apiserver/json-patch.js';

test('add, replace, remove, move, copy and test apply in order (RFC 6902)', () => {
  const doc = { metadata: { labels: { a: '1' } }, spec: { list: [1, 3] } };
  const out = applyJsonPatch(doc, [
    { op: 'add', path: '/spec/list/1', value: 2 },
    { op: 'add', path: '/spec/list/-', value: 4 },
    { op: 'replace', path: '/metadata/labels/a', value: '2' },
    { op: 'copy', from: '/metadata/labels/a', path: '/metadata/labels/b' },
    { op: 'move', from: '/metadata/labels/a', path: '/metadata/labels/c' },
    { op: 'test', path: '/metadata/labels/c', value: '2' },
    { op: 'remove', path: '/spec/list/0' },
  ]);
  assert.deepEqual(out, { metadata: { labels: { b: '2', c: '2' } }, spec: { list: [2, 3, 4] } });
  assert.deepEqual(doc, { metadata: { labels: { a: '1' } }, spec: { list: [1, 3] } }, 'the input is not modified');
});

test('pointer escapes ~1 and ~0 address keys with / and ~', () => {
  const out = applyJsonPatch({ metadata: { annotations: {} } }, [{ op: 'add', path: '/metadata/annotations/kubelink.io~1a~0b', value: 'x' }]);
  assert.deepEqual(out, { metadata: { annotations: { 'kubelink.io/a~b': 'x' } } });
});

test('adding below a missing parent fails, as with a status that does not exist yet', () => {
  assert.throws(() => applyJsonPatch({ spec: {} }, [{ op: 'add', path: '/status/state', value: 'Up' }]), JsonPatchError);
});

test('a failing test operation rejects the whole patch', () => {
  assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }, { op: 'test', path: '/a', value: 1 }]), /test failed/);
});

test('malformed patches are TypeErrors (answered with 400)', () => {
  assert.throws(() => applyJsonPatch({}, { op: 'add' }), TypeError);
  assert.throws(() => applyJsonPatch({}, [{ op: 'add', path: '/a' }]), TypeError);
  assert.throws(() => applyJsonPatch({}, [{ op: 'frobnicate', path: '/a' }]), TypeError);
});
