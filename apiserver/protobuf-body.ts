// Request bodies in Kubernetes protobuf (`Content-Type: application/vnd.kubernetes.protobuf`).
// kubectl's generator commands (`kubectl create namespace|configmap|secret|
// serviceaccount|role|rolebinding|clusterrole|clusterrolebinding`) send protobuf and do
// not fall back to JSON, so this server decodes those kinds (and only those) into the
// JSON the rest of the server works with. Responses are always JSON (kubectl accepts it).
//
// Wire layout: the 4 magic bytes "k8s\0", then a runtime.Unknown message
// { typeMeta = 1 { apiVersion = 1, kind = 2 }, raw = 2, contentEncoding = 3, contentType = 4 },
// where `raw` is the object's own message. Field numbers below are those of the
// Kubernetes generated.proto files. gogo-protobuf writes empty scalars too; like Go's
// `omitempty`, empty singular scalars and empty messages are left out of the JSON.

import { unsupportedMediaType } from './api-errors.js';
import type { JsonObject, JsonValue } from './api-types.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field =
  | { name: string; type: 'string' | 'bytes' | 'int' | 'bool' | 'time'; repeated?: boolean }
  | { name: string; type: 'map'; values: 'string' | 'bytes' }
  | { name: string; type: 'message'; message: Message; repeated?: boolean };
type Message = Record<number, Field>;

const str = (name: string, repeated = false): Field => ({ name, type: 'string', repeated });
const msg = (name: string, message: Message, repeated = false): Field => ({ name, type: 'message', message, repeated });

const OWNER_REFERENCE: Message = {
  1: str('kind'),
  3: str('name'),
  4: str('uid'),
  5: str('apiVersion'),
  6: { name: 'controller', type: 'bool' },
  7: { name: 'blockOwnerDeletion', type: 'bool' },
};
const OBJECT_META: Message = {
  1: str('name'),
  2: str('generateName'),
  3: str('namespace'),
  4: str('selfLink'),
  5: str('uid'),
  6: str('resourceVersion'),
  7: { name: 'generation', type: 'int' },
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time' },
  10: { name: 'deletionGracePeriodSeconds', type: 'int' },
  11: { name: 'labels', type: 'map', values: 'string' },
  12: { name: 'annotations', type: 'map', values: 'string' },
  13: msg('ownerReferences', OWNER_REFERENCE, true),
  14: str('finalizers', true),
};
const OBJECT_REFERENCE: Message = {
  1: str('kind'),
  2: str('namespace'),
  3: str('name'),
  4: str('uid'),
  5: str('apiVersion'),
  6: str('resourceVersion'),
  7: str('fieldPath'),
};
const POLICY_RULE: Message = {
  1: str('verbs', true),
  2: str('apiGroups', true),
  3: str('resources', true),
  4: str('resourceNames', true),
  5: str('nonResourceURLs', true),
};
const LABEL_SELECTOR: Message = {
  1: { name: 'matchLabels', type: 'map', values: 'string' },
  2: msg('matchExpressions', { 1: str('key'), 2: str('operator'), 3: str('values', true) }, true),
};
const SUBJECT: Message = { 1: str('kind'), 2: str('apiGroup'), 3: str('name'), 4: str('namespace') };
const ROLE_REF: Message = { 1: str('apiGroup'), 2: str('kind'), 3: str('name') };

/** apiVersion/kind -> message of the object. */
const KINDS: Record<string, Message> = {
  'v1/Namespace': {
    1: msg('metadata', OBJECT_META),
    2: msg('spec', { 1: str('finalizers', true) }),
    3: msg('status', { 1: str('phase') }),
  },
  'v1/ConfigMap': {
    1: msg('metadata', OBJECT_META),
    2: { name: 'data', type: 'map', values: 'string' },
    3: { name: 'binaryData', type: 'map', values: 'bytes' },
    4: { name: 'immutable', type: 'bool' },
  },
  'v1/Secret': {
    1: msg('metadata', OBJECT_META),
    2: { name: 'data', type: 'map', values: 'bytes' },
    3: str('type'),
    4: { name: 'stringData', type: 'map', values: 'string' },
    5: { name: 'immutable', type: 'bool' },
  },
  'v1/ServiceAccount': {
    1: msg('metadata', OBJECT_META),
    2: msg('secrets', OBJECT_REFERENCE, true),
    3: msg('imagePullSecrets', { 1: str('name') }, true),
    4: { name: 'automountServiceAccountToken', type: 'bool' },
  },
  'rbac.authorization.k8s.io/v1/Role': { 1: msg('metadata', OBJECT_META), 2: msg('rules', POLICY_RULE, true) },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    1: msg('metadata', OBJECT_META),
    2: msg('rules', POLICY_RULE, true),
    3: msg('aggregationRule', { 1: msg('clusterRoleSelectors', LABEL_SELECTOR, true) }),
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': { 1: msg('metadata', OBJECT_META), 2: msg('subjects', SUBJECT, true), 3: msg('roleRef', ROLE_REF) },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { 1: msg('metadata', OBJECT_META), 2: msg('subjects', SUBJECT, true), 3: msg('roleRef', ROLE_REF) },
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new RangeError('truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Buffer {
    const length = Number(this.varint());
    if (this.pos + length > this.buf.length) throw new RangeError('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  /** Field number and wire type of the next field. */
  tag(): [number, number] {
    const key = this.varint();
    return [Number(key >> 3n), Number(key & 7n)];
  }
}

function fail(why: string): never {
  throw unsupportedMediaType(`cannot decode the protobuf body: ${why}; send the object as application/json (e.g. kubectl apply -f or kubectl create -f)`);
}

/** Decodes one message into JSON members, empty scalars left out. */
function decodeMessage(buf: Buffer, message: Message, path: string): JsonObject {
  const out: JsonObject = {};
  const reader = new Reader(buf);
  while (!reader.done()) {
    const [number, wire] = reader.tag();
    const field = message[number];
    if (!field) fail(`field ${number} of ${path} is not understood by this test server`);
    if (field.type === 'int' || field.type === 'bool') {
      if (wire !== 0) fail(`${path}.${field.name} has wire type ${wire}`);
      const v = reader.varint();
      if (v !== 0n) out[field.name] = field.type === 'bool' ? true : Number(BigInt.asIntN(64, v));
      continue;
    }
    if (wire !== 2) fail(`${path}.${field.name} has wire type ${wire}`);
    const data = reader.bytes();
    const at = `${path}.${field.name}`;
    if (field.type === 'map') {
      const entry = decodeMapEntry(data, field.values, at);
      const map = (out[field.name] ?? {}) as JsonObject;
      map[entry[0]] = entry[1];
      out[field.name] = map;
      continue;
    }
    let value: JsonValue | undefined;
    if (field.type === 'string') value = data.toString('utf8');
    else if (field.type === 'bytes') value = data.toString('base64');
    else if (field.type === 'time') value = decodeTime(data);
    else if (field.type === 'message') value = decodeMessage(data, field.message, at);
    if (field.repeated) {
      const list = (out[field.name] ?? []) as JsonValue[];
      list.push(value ?? {});
      out[field.name] = list;
    } else if (value !== undefined && value !== '' && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0)) {
      out[field.name] = value;
    }
  }
  return out;
}

function decodeMapEntry(buf: Buffer, values: 'string' | 'bytes', path: string): [string, string] {
  const reader = new Reader(buf);
  let key = '';
  let value = '';
  while (!reader.done()) {
    const [number, wire] = reader.tag();
    if (wire !== 2 || (number !== 1 && number !== 2)) fail(`bad map entry in ${path}`);
    const data = reader.bytes();
    if (number === 1) key = data.toString('utf8');
    else value = values === 'bytes' ? data.toString('base64') : data.toString('utf8');
  }
  return [key, value];
}

/** metav1.Time { seconds = 1, nanos = 2 } -> RFC 3339; an empty message is the zero time (omitted). */
function decodeTime(buf: Buffer): string | undefined {
  const reader = new Reader(buf);
  let seconds = 0n;
  while (!reader.done()) {
    const [number, wire] = reader.tag();
    if (wire !== 0) fail('bad time field');
    const v = reader.varint();
    if (number === 1) seconds = BigInt.asIntN(64, v);
  }
  return seconds === 0n ? undefined : new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === PROTOBUF_MEDIA_TYPE;
}

/** The JSON form of a protobuf-encoded object; 415 for kinds this server cannot decode. */
export function decodeProtobufObject(body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) fail('the body does not start with the k8s protobuf magic');
  try {
    const unknown = new Reader(body.subarray(4));
    let apiVersion = '';
    let kind = '';
    let raw: Buffer | undefined;
    while (!unknown.done()) {
      const [number, wire] = unknown.tag();
      if (wire !== 2) fail('bad envelope');
      const data = unknown.bytes();
      if (number === 1) {
        const typeMeta = new Reader(data);
        while (!typeMeta.done()) {
          const [n] = typeMeta.tag();
          const v = typeMeta.bytes().toString('utf8');
          if (n === 1) apiVersion = v;
          else if (n === 2) kind = v;
        }
      } else if (number === 2) raw = data;
    }
    const message = KINDS[`${apiVersion}/${kind}`];
    if (!message) fail(`${kind} (${apiVersion}) is not among the kinds it decodes (${Object.keys(KINDS).join(', ')})`);
    return { apiVersion, kind, ...decodeMessage(raw ?? Buffer.alloc(0), message, kind) };
  } catch (err) {
    if (err instanceof RangeError) fail(err.message);
    throw err;
  }
}
