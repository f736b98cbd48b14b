import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../apiserver/api-errors.js';
import { decodeProtobufObject } from '../../apiserver/protobuf-body.js';

// Minimal protobuf writer for the test: length-delimited fields only (plus varints).
const varint = (n: number): Buffer => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
};
const field = (number: number, data: Buffer | string): Buffer => {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
};
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from('k8s\0', 'latin1'), field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])), field(2, raw), field(3, ''), field(4, '')]);

test('a Secret as kubectl create sends it decodes to JSON, bytes as base64, empty scalars omitted', () => {
  const meta = Buffer.concat([field(1, 's1'), field(2, ''), field(3, ''), field(8, Buffer.alloc(0)), field(11, Buffer.concat([field(1, 'app'), field(2, 'x')]))]);
  const raw = Buffer.concat([field(1, meta), field(2, Buffer.concat([field(1, 'k'), field(2, Buffer.from([0, 1, 255]))])), field(3, 'Opaque')]);
  assert.deepEqual(decodeProtobufObject(envelope('v1', 'Secret', raw)), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's1', labels: { app: 'x' } },
    data: { k: 'AAH/' },
    type: 'Opaque',
  });
});

test('repeated strings keep empty entries (the core API group is "")', () => {
  const rule = Buffer.concat([field(1, 'get'), field(2, ''), field(3, 'secrets')]);
  const raw = Buffer.concat([field(1, field(1, 'r')), field(2, rule)]);
  assert.deepEqual(decodeProtobufObject(envelope('rbac.authorization.k8s.io/v1', 'Role', raw)).rules, [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }]);
});

test('kinds it cannot decode, unknown fields and non-protobuf bodies are 415 with a hint to send JSON', () => {
  const is415 = (err: unknown): boolean => err instanceof ApiError && err.code === 415 && /application\/json/.test(err.message);
  assert.throws(() => decodeProtobufObject(envelope('apps/v1', 'Deployment', Buffer.alloc(0))), is415);
  assert.throws(() => decodeProtobufObject(envelope('v1', 'ConfigMap', field(9, 'x'))), is415);
  assert.throws(() => decodeProtobufObject(Buffer.from('{"kind":"ConfigMap"}')), is415);
});
