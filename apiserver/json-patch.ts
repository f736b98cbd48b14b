// JSON patch (RFC 6902, application/json-patch+json): add, remove, replace, move, copy,
// test, with JSON pointers (RFC 6901). A failing operation rejects the whole patch.

import type { JsonObject, JsonValue } from './api-types.js';
import { isJsonObject } from './api-types.js';
import { cloneJson, jsonEqual } from './json-value.js';

/** A patch that cannot be applied to this document (the server answers 422). */
export class JsonPatchError extends Error {}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: JsonValue;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: JsonValue[], token: string, forInsert: boolean, pointer: string): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new JsonPatchError(`invalid array index "${token}" in "${pointer}"`);
  const index = Number(token);
  if (index > arr.length || (!forInsert && index === arr.length)) throw new JsonPatchError(`array index out of bounds in "${pointer}"`);
  return index;
}

/** The container holding the pointer's last token, and that token. */
function parentOf(doc: JsonValue, pointer: string): { parent: JsonObject | JsonValue[]; token: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new JsonPatchError('the root cannot be the target of this operation');
  let cur: JsonValue = doc;
  for (const token of tokens.slice(0, -1)) {
    let next: JsonValue | undefined;
    if (Array.isArray(cur)) next = cur[arrayIndex(cur, token, false, pointer)];
    else if (isJsonObject(cur)) next = cur[token];
    if (next === undefined || next === null || typeof next !== 'object') {
      throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
    }
    cur = next;
  }
  return { parent: cur as JsonObject | JsonValue[], token: tokens[tokens.length - 1] };
}

function read(doc: JsonValue, pointer: string): JsonValue {
  if (pointer === '') return doc;
  const { parent, token } = parentOf(doc, pointer);
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, token, false, pointer)] : parent[token];
  if (value === undefined) throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
  return value;
}

function remove(doc: JsonValue, pointer: string): JsonValue {
  const { parent, token } = parentOf(doc, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, token, false, pointer), 1)[0];
  if (!(token in parent)) throw new JsonPatchError(`doc is missing key: "${pointer}": missing value`);
  const old = parent[token];
  delete parent[token];
  return old;
}

function add(doc: JsonValue, pointer: string, value: JsonValue): JsonValue {
  if (pointer === '') return value;
  const { parent, token } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, token, true, pointer), 0, value);
  else parent[token] = value;
  return doc;
}

function replace(doc: JsonValue, pointer: string, value: JsonValue): JsonValue {
  if (pointer === '') return value;
  const { parent, token } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent[arrayIndex(parent, token, false, pointer)] = value;
  else {
    if (!(token in parent)) throw new JsonPatchError(`doc is missing key: "${pointer}": missing value`);
    parent[token] = value;
  }
  return doc;
}

/** Throws TypeError for a malformed patch (400) and JsonPatchError for one that does not apply (422). */
export function applyJsonPatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!Array.isArray(patch)) throw new TypeError('a JSON patch must be an array of operations');
  let doc = cloneJson(target);
  for (const raw of patch) {
    if (!isJsonObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new TypeError(`invalid JSON patch operation ${JSON.stringify(raw)}`);
    }
    const op = raw as unknown as Operation;
    const needsValue = op.op === 'add' || op.op === 'replace' || op.op === 'test';
    if (needsValue && op.value === undefined) throw new TypeError(`operation "${op.op}" on "${op.path}" has no value`);
    if ((op.op === 'move' || op.op === 'copy') && typeof op.from !== 'string') throw new TypeError(`operation "${op.op}" has no from`);
    switch (op.op) {
      case 'add':
        doc = add(doc, op.path, cloneJson(op.value!));
        break;
      case 'remove':
        remove(doc, op.path);
        break;
      case 'replace':
        doc = replace(doc, op.path, cloneJson(op.value!));
        break;
      case 'move': {
        const value = remove(doc, op.from!);
        doc = add(doc, op.path, value);
        break;
      }
      case 'copy':
        doc = add(doc, op.path, cloneJson(read(doc, op.from!)));
        break;
      case 'test':
        if (!jsonEqual(read(doc, op.path), op.value)) throw new JsonPatchError(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw new TypeError(`unknown JSON patch operation "${op.op}"`);
    }
  }
  return doc;
}
