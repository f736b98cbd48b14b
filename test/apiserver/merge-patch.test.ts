import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch } from '../../apiserver/merge-patch.js';
import { deepFreeze } from '../../apiserver/json-value.js';

test('objects merge member by member, null deletes, arrays and scalars replace (RFC 7386)', () => {
  const target = deepFreeze({ spec: { a: 1, b: [1, 2], c: { d: 1, e: 2 } }, status: { state: 'Up' } });
  const patched = applyMergePatch(target, { spec: { a: 2, b: [3], c: { e: null, f: 3 } }, status: null });
  assert.deepEqual(patched, { spec: { a: 2, b: [3], c: { d: 1, f: 3 } } });
});

test('the target is left untouched (it may be a frozen stored object)', () => {
  const target = deepFreeze({ status: { state: 'Up' } });
  applyMergePatch(target, { status: { state: 'Down' } });
  assert.deepEqual(target, { status: { state: 'Up' } });
});

test('a patch member that is an object replaces a non-object target member', () => {
  assert.deepEqual(applyMergePatch({ status: 'x' }, { status: { state: 'Up' } }), { status: { state: 'Up' } });
});
