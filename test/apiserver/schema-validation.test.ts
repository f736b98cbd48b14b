import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { JsonValue, StructuralSchema } from '../../apiserver/api-types.js';
import { applyDefaults, pruneUnknownFields, validateAgainstSchema } from '../../apiserver/schema-validation.js';
import { matchesFormat } from '../../apiserver/schema-formats.js';
import { fixture } from './kubectl-harness.js';

const crd = parseAllDocuments(readFileSync(fixture('kubelink-crd.yaml'), 'utf8'))[0].toJSON();
const kubeLinkSchema = crd.spec.versions[0].schema.openAPIV3Schema as StructuralSchema;

const link = (spec: Record<string, unknown>, status?: Record<string, unknown>): JsonValue =>
  ({ apiVersion: 'kubelink.mandelsoft.org/v1alpha1', kind: 'KubeLink', metadata: { name: 'x' }, spec, ...(status ? { status } : {}) }) as JsonValue;

const fields = (value: JsonValue): string[] => validateAgainstSchema(value, kubeLinkSchema).map((e) => `${e.field}: ${e.detail}`);

test('a well-formed KubeLink passes the fixture schema', () => {
  assert.deepEqual(fields(link({ cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088' }, { state: 'Up', gateway: '10.250.0.2' })), []);
});

test('required fields, patterns, enums and formats are reported with the real server\'s wording', () => {
  assert.deepEqual(fields(link({ cidr: '100.64.300.0/20', clusterAddress: '192.168.0.12/24' }, { state: 'Sideways', gateway: 'gw' })), [
    'spec.endpoint: Required value',
    `spec.cidr: Invalid value: "100.64.300.0/20": spec.cidr in body should match '${kubeLinkSchema.properties!.spec.properties!.cidr.pattern}'`,
    'status.state: Unsupported value: "Sideways": supported values: "Up", "Down", "Error", "Invalid"',
    'status.gateway: Invalid value: "gw": status.gateway in body must be of type ipv4: "gw"',
  ]);
});

test('wrong types are reported with the type found', () => {
  assert.deepEqual(fields(link({ cidr: 5, clusterAddress: '192.168.0.12/24', endpoint: 'e' })), [
    'spec.cidr: Invalid value: "integer": spec.cidr in body must be of type string: "integer"',
  ]);
  assert.deepEqual(fields({ apiVersion: 'v', kind: 'KubeLink', metadata: {}, spec: 'x' }), ['spec: Invalid value: "string": spec in body must be of type object: "string"']);
});

test('maxLength, minLength, bounds and item counts', () => {
  const schema: StructuralSchema = {
    type: 'object',
    properties: {
      s: { type: 'string', maxLength: 3, minLength: 2 },
      n: { type: 'integer', minimum: 1, maximum: 5 },
      l: { type: 'array', maxItems: 1, items: { type: 'boolean' } },
    },
  };
  const errors = (v: JsonValue): string[] => validateAgainstSchema(v, schema).map((e) => `${e.reason} ${e.field}: ${e.detail}`);
  assert.deepEqual(errors({ s: 'abcd', n: 9, l: [true, 'x'] }), [
    'FieldValueTooLong s: Too long: may not be more than 3 bytes',
    'FieldValueInvalid n: Invalid value: 9: n in body should be less than or equal to 5',
    'FieldValueTooMany l: Too many: 2: must have at most 1 items',
    'FieldValueInvalid l[1]: Invalid value: "string": l[1] in body must be of type boolean: "string"',
  ]);
  assert.deepEqual(errors({ s: 'a', n: 0 }), [
    'FieldValueInvalid s: Invalid value: "a": s in body should be at least 2 chars long',
    'FieldValueInvalid n: Invalid value: 0: n in body should be greater than or equal to 1',
  ]);
});

test('pruning drops undeclared fields (reporting their paths) but keeps apiVersion, kind, metadata and preserved subtrees', () => {
  const schema: StructuralSchema = {
    type: 'object',
    properties: {
      spec: { type: 'object', properties: { a: { type: 'string' }, free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, map: { type: 'object', additionalProperties: { type: 'string' } } } },
    },
  };
  const obj = { apiVersion: 'v', kind: 'K', metadata: { name: 'x', labels: { a: 'b' } }, spec: { a: 'x', b: 'y', free: { anything: 1 }, map: { k: 'v' } }, extra: 1 };
  assert.deepEqual(pruneUnknownFields(obj, schema), ['spec.b', 'extra']);
  assert.deepEqual(obj, { apiVersion: 'v', kind: 'K', metadata: { name: 'x', labels: { a: 'b' } }, spec: { a: 'x', free: { anything: 1 }, map: { k: 'v' } } });
});

test('pruning drops nulls of non-nullable fields and keeps nullable ones', () => {
  const schema: StructuralSchema = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string', nullable: true } } };
  const obj = { a: null, b: null };
  pruneUnknownFields(obj, schema);
  assert.deepEqual(obj, { b: null });
  assert.deepEqual(validateAgainstSchema(obj, schema), []);
});

test('defaults fill absent fields, including inside a defaulted object', () => {
  const schema: StructuralSchema = {
    type: 'object',
    properties: { spec: { type: 'object', default: {}, properties: { port: { type: 'integer', default: 80 }, host: { type: 'string' } } } },
  };
  const obj = {};
  applyDefaults(obj, schema);
  assert.deepEqual(obj, { spec: { port: 80 } });
  const set = { spec: { port: 8088 } };
  applyDefaults(set, schema);
  assert.deepEqual(set, { spec: { port: 8088 } });
});

test('x-kubernetes-int-or-string accepts integers and strings only', () => {
  const schema: StructuralSchema = { type: 'object', properties: { p: { 'x-kubernetes-int-or-string': true } } };
  assert.deepEqual(validateAgainstSchema({ p: 80 }, schema), []);
  assert.deepEqual(validateAgainstSchema({ p: 'http' }, schema), []);
  assert.equal(validateAgainstSchema({ p: true }, schema).length, 1);
});

test('string formats: ipv4, cidr, hostname, date-time; unknown formats pass', () => {
  assert.equal(matchesFormat('ipv4', '192.168.0.1'), true);
  assert.equal(matchesFormat('ipv4', '192.168.0.256'), false);
  assert.equal(matchesFormat('ipv4', '192.168.0'), false);
  assert.equal(matchesFormat('cidr', '100.64.16.0/20'), true);
  assert.equal(matchesFormat('cidr', '100.64.16.0/33'), false);
  assert.equal(matchesFormat('cidr', 'fd00::/64'), true);
  assert.equal(matchesFormat('hostname', 'broker.c1.kubelink.lab'), true);
  assert.equal(matchesFormat('hostname', 'bad_host'), false);
  assert.equal(matchesFormat('date-time', '2025-01-01T00:00:00Z'), true);
  assert.equal(matchesFormat('no-such-format', 'anything'), true);
});
