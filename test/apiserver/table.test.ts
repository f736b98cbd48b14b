import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, ResourceType } from '../../apiserver/api-types.js';
import { builtinResourceTypes } from '../../apiserver/builtin-resources.js';
import { evaluateJsonPath, parseJsonPath } from '../../apiserver/simple-jsonpath.js';
import { humanDuration, toTable } from '../../apiserver/table.js';

test('human durations match kubectl AGE formatting', () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [-5 * s, '<invalid>'],
    [0, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [150 * s, '2m30s'],
    [600 * s, '10m'],
    [3 * 3600 * s + 20 * 60 * s, '3h20m'],
    [30 * 3600 * s, '30h'],
    [3 * 86400 * s + 5 * 3600 * s, '3d5h'],
    [100 * 86400 * s, '100d'],
    [(3 * 365 + 10) * 86400 * s, '3y10d'],
  ];
  for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
});

test('JSONPath: fields, indexes, wildcards and equality filters', () => {
  const doc = { status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Other', status: 'False' }] }, spec: { ports: [{ port: 80 }, { port: 81 }], 'a.b': 1 } };
  const at = (p: string): unknown[] => evaluateJsonPath(parseJsonPath(p), doc);
  assert.deepEqual(at('.spec.ports[1].port'), [81]);
  assert.deepEqual(at('.spec.ports[*].port'), [80, 81]);
  assert.deepEqual(at(".spec['a.b']"), [1]);
  assert.deepEqual(at('.status.conditions[?(@.type=="Ready")].status'), ['True']);
  assert.deepEqual(at('{.spec.missing}'), []);
});

test('a Table has NAME plus the printer columns, typed cells, and null for absent values', () => {
  const type: ResourceType = {
    ...builtinResourceTypes()[0],
    printerColumns: [
      { name: 'State', type: 'string', jsonPath: '.status.state' },
      { name: 'Count', type: 'integer', jsonPath: '.status.count' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  };
  const obj: KubeObject = { apiVersion: 'v1', kind: 'X', metadata: { name: 'a', creationTimestamp: '2025-01-01T00:00:00Z' }, status: { count: 3.0 } };
  const table = toTable(type, [obj], { resourceVersion: '5' }, { includeObject: 'Metadata', withColumns: true, now: new Date('2025-01-01T00:05:00Z') });
  assert.deepEqual((table.columnDefinitions as Array<{ name: string }>).map((c) => c.name), ['Name', 'State', 'Count', 'Age']);
  const row = (table.rows as Array<{ cells: unknown[]; object: { kind: string } }>)[0];
  assert.deepEqual(row.cells, ['a', null, 3, '5m']);
  assert.equal(row.object.kind, 'PartialObjectMetadata');
  const rowsOnly = toTable(type, [obj], {}, { includeObject: 'None', withColumns: false, now: new Date() });
  assert.deepEqual(rowsOnly.columnDefinitions, []);
  assert.equal((rowsOnly.rows as Array<{ object?: unknown }>)[0].object, undefined);
});
