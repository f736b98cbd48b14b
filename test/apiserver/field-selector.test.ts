import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apiserver/api-types.js';
import { COMMON_FIELD_LABELS, matchesFields, parseFieldSelector } from '../../apiserver/field-selector.js';

const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'kubelink' }, type: 'kubernetes.io/tls' };

function selects(selector: string, allowed = COMMON_FIELD_LABELS): boolean {
  const parsed = parseFieldSelector(selector, allowed);
  assert.ok(parsed.ok, `selector ${selector} should parse`);
  return matchesFields(parsed.value, secret);
}

test('metadata.name and metadata.namespace select with =, == and !=', () => {
  assert.equal(selects('metadata.name=tls'), true);
  assert.equal(selects('metadata.name==tls'), true);
  assert.equal(selects('metadata.name!=tls'), false);
  assert.equal(selects('metadata.namespace=kubelink,metadata.name=tls'), true);
  assert.equal(selects('metadata.namespace=default'), false);
});

test('a type-specific field label works only where declared', () => {
  assert.equal(selects('type=kubernetes.io/tls', [...COMMON_FIELD_LABELS, 'type']), true);
  const refused = parseFieldSelector('type=kubernetes.io/tls', COMMON_FIELD_LABELS);
  assert.deepEqual(refused, { ok: false, reason: 'field label not supported: type' });
});

test('a selector without an operator is rejected', () => {
  const parsed = parseFieldSelector('metadata.name', COMMON_FIELD_LABELS);
  assert.equal(parsed.ok, false);
});
