// JSON merge patch (RFC 7386, application/merge-patch+json): objects merge member by
// member, `null` deletes a member, anything else (arrays included) replaces.

import type { JsonValue } from './api-types.js';
import { isJsonObject } from './api-types.js';
import { cloneJson } from './json-value.js';

/** Returns a new document; `target` is not modified. */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  return mergeInPlace(cloneJson(target), patch);
}

function mergeInPlace(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const result = isJsonObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergeInPlace(result[key], value);
  }
  return result;
}
