import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../apiserver/api-types.js';
import { defaultCrd, resourceTypesOfCrd, validateCrd } from '../../apiserver/crd.js';
import { fixture } from './kubectl-harness.js';

const load = (): KubeObject => parseAllDocuments(readFileSync(fixture('kubelink-crd.yaml'), 'utf8'))[0].toJSON() as KubeObject;

test('the KubeLink fixture CRD is valid and yields one cluster-scoped type with status and printer columns', () => {
  const crd = load();
  defaultCrd(crd);
  assert.deepEqual(validateCrd(crd), []);
  const [type] = resourceTypesOfCrd(crd);
  assert.equal(type.kind, 'KubeLink');
  assert.equal(type.namespaced, false);
  assert.equal(type.hasStatusSubresource, true);
  assert.deepEqual(type.printerColumns.map((c) => `${c.name}:${c.priority ?? 0}`), ['CIDR:0', 'Address:0', 'Endpoint:0', 'Gateway:0', 'State:0', 'Message:1', 'Age:0']);
});

test('a CRD named other than plural.group, with two storage versions and no schema is rejected field by field', () => {
  const crd = load();
  crd.metadata.name = 'wrong.example.org';
  const spec = crd.spec as { versions: Array<Record<string, unknown>> };
  spec.versions.push({ name: 'v1', served: true, storage: true });
  const errors = validateCrd(crd).map((e) => `${e.field}: ${e.detail}`);
  assert.deepEqual(errors, [
    'metadata.name: Invalid value: "wrong.example.org": must be spec.names.plural+"."+spec.group',
    'spec.versions: Invalid value: ["v1alpha1","v1"]: must have exactly one version marked as storage version',
    'spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required',
  ]);
});

test('scope is immutable', () => {
  const old = load();
  const next = load();
  (next.spec as { scope: string }).scope = 'Namespaced';
  assert.deepEqual(validateCrd(next, old).map((e) => e.field), ['spec.scope']);
});

test('unserved versions are not served; listKind and singular default from kind', () => {
  const crd = load();
  const names = (crd.spec as { names: Record<string, unknown> }).names;
  delete names.listKind;
  delete names.singular;
  const spec = crd.spec as { versions: Array<Record<string, unknown>> };
  spec.versions.push({ ...spec.versions[0], name: 'v1alpha0', storage: false, served: false });
  defaultCrd(crd);
  const types = resourceTypesOfCrd(crd);
  assert.deepEqual(types.map((t) => t.version), ['v1alpha1']);
  assert.equal(types[0].listKind, 'KubeLinkList');
  assert.equal(types[0].singular, 'kubelink');
});
