// Strategic merge patch (application/strategic-merge-patch+json) for built-in types, as
// far as `kubectl apply` and `kubectl patch` use it. The real server reads each field's
// patch strategy from the Go types; this server has no types, so it knows the merge keys
// of the lists that matter in the manifests it stores (containers by name, ports by
// containerPort or port, env by name, ...) and replaces every other list, which is what
// the real server does for atomic lists anyway.
//
// Supported directives: `$patch: replace|delete|merge` on maps and keyed list items,
// `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`.
// Not supported: `$patch: replace` on a whole list given as an item, per-type merge keys
// for lists not named in MERGE_KEYS, and SMP on custom resources (415, like the real server).

import type { JsonObject, JsonValue } from './api-types.js';
import { isJsonObject } from './api-types.js';
import { cloneJson, jsonEqual } from './json-value.js';

/** List field name -> merge key (patchMergeKey of the Kubernetes API types). */
const MERGE_KEYS: Record<string, string | ((items: JsonObject[]) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  secrets: 'name',
  resourceClaims: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  hostAliases: 'ip',
  conditions: 'type',
  topologySpreadConstraints: 'topologyKey',
  ownerReferences: 'uid',
  taints: 'key',
  // ContainerPort merges by containerPort, ServicePort by port.
  ports: (items) => (items.some((i) => 'containerPort' in i) ? 'containerPort' : 'port'),
};

/** Primitive lists whose patch strategy is merge (union) rather than replace. */
const PRIMITIVE_MERGE_LISTS = new Set(['finalizers']);

const SET_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';

function mergeKeyFor(field: string, items: JsonObject[]): string | undefined {
  const key = MERGE_KEYS[field];
  return typeof key === 'function' ? key(items) : key;
}

/** Returns a new document; `target` is not modified. */
export function applyStrategicMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) throw new TypeError('a strategic merge patch must be a JSON object');
  const result = mergeMap(isJsonObject(target) ? cloneJson(target) : {}, patch);
  return result ?? {};
}

function withoutDirectives(map: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(map)) {
    if (k.startsWith('$')) continue;
    out[k] = isJsonObject(v) ? withoutDirectives(v) : Array.isArray(v) ? v.map((i) => (isJsonObject(i) ? withoutDirectives(i) : i)) : v;
  }
  return out;
}

/** Merges `patch` into `original` (owned, mutated); undefined means "delete this map". */
function mergeMap(original: JsonObject, patch: JsonObject): JsonObject | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return withoutDirectives(patch);

  const orders = new Map<string, JsonValue[]>();
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith(SET_ORDER)) {
      if (Array.isArray(value)) orders.set(key.slice(SET_ORDER.length), value);
      continue;
    }
    if (key.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE.length);
      const current = original[field];
      if (Array.isArray(current) && Array.isArray(value)) original[field] = current.filter((v) => !value.some((d) => jsonEqual(d, v)));
      continue;
    }
    if (value === null) {
      delete original[key];
    } else if (isJsonObject(value)) {
      const merged = mergeMap(isJsonObject(original[key]) ? (original[key] as JsonObject) : {}, value);
      if (merged === undefined) delete original[key];
      else original[key] = merged;
    } else if (Array.isArray(value)) {
      original[key] = mergeList(key, original[key], value);
    } else {
      original[key] = value;
    }
  }
  for (const [field, order] of orders) {
    const list = original[field];
    if (Array.isArray(list)) original[field] = reorder(field, list, order);
  }
  if (Array.isArray(patch.$retainKeys)) {
    const retain = new Set(patch.$retainKeys.map(String));
    for (const key of Object.keys(original)) if (!retain.has(key)) delete original[key];
  }
  return original;
}

function mergeList(field: string, original: JsonValue | undefined, patch: JsonValue[]): JsonValue[] {
  const current = Array.isArray(original) ? original : [];
  const objects = patch.filter(isJsonObject);
  if (objects.length === patch.length && objects.length > 0) {
    const mergeKey = mergeKeyFor(field, [...objects, ...current.filter(isJsonObject)]);
    if (mergeKey) return mergeKeyedList(current, objects, mergeKey);
  }
  if (PRIMITIVE_MERGE_LISTS.has(field)) {
    const out = [...current];
    for (const v of patch) if (!out.some((o) => jsonEqual(o, v))) out.push(v);
    return out;
  }
  return patch.map((v) => (isJsonObject(v) ? withoutDirectives(v) : v));
}

function mergeKeyedList(current: JsonValue[], patch: JsonObject[], mergeKey: string): JsonValue[] {
  const out = [...current];
  for (const item of patch) {
    const key = item[mergeKey];
    const index = out.findIndex((o) => isJsonObject(o) && jsonEqual(o[mergeKey], key));
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1);
      continue;
    }
    if (index >= 0) {
      const merged = mergeMap(out[index] as JsonObject, item);
      if (merged === undefined) out.splice(index, 1);
      else out[index] = merged;
    } else {
      out.push(withoutDirectives(item));
    }
  }
  return out;
}

/** Applies `$setElementOrder`: listed elements first in the given order, the rest after. */
function reorder(field: string, list: JsonValue[], order: JsonValue[]): JsonValue[] {
  const objects = order.filter(isJsonObject);
  const mergeKey = objects.length > 0 ? mergeKeyFor(field, objects) : undefined;
  const identity = (v: JsonValue): JsonValue => (mergeKey && isJsonObject(v) ? v[mergeKey] : v);
  const wanted = order.map(identity);
  const rank = (v: JsonValue): number => {
    const i = wanted.findIndex((w) => jsonEqual(w, identity(v)));
    return i < 0 ? wanted.length : i;
  };
  return list
    .map((v, i) => ({ v, i }))
    .sort((a, b) => rank(a.v) - rank(b.v) || a.i - b.i)
    .map((e) => e.v);
}
