// PATCH request bodies: picks the patch flavour from the Content-Type and applies it to
// the current object, turning patch failures into the API errors the real server sends.

import type { JsonValue, KubeObject } from './api-types.js';
import { isJsonObject } from './api-types.js';
import { ApiError, badRequest, unsupportedMediaType } from './api-errors.js';
import { applyJsonPatch, JsonPatchError } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';

export type PatchKind = 'json' | 'merge' | 'strategic' | 'apply';

const MEDIA_TYPES: Record<string, PatchKind> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

export function patchKindOf(contentType: string | undefined): PatchKind | undefined {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return MEDIA_TYPES[mediaType];
}

function acceptedTypes(isCustomResource: boolean): string {
  const types = ['application/json-patch+json', 'application/merge-patch+json'];
  if (!isCustomResource) types.push('application/strategic-merge-patch+json');
  return types.join(', ');
}

/**
 * The patched object (a new one; `current` is not modified). Throws 415 for server-side
 * apply and for strategic merge patches of custom resources, 400 for an unparsable body,
 * 422 for a JSON patch that does not apply.
 */
export function applyPatchBody(
  kind: PatchKind | undefined,
  current: KubeObject,
  body: string,
  isCustomResource: boolean,
): KubeObject {
  if (kind === undefined || kind === 'apply' || (kind === 'strategic' && isCustomResource)) {
    const why =
      kind === 'apply'
        ? 'server-side apply is not supported by the kubelink test API server; use client-side kubectl apply'
        : 'the body of the request was in an unknown format';
    throw unsupportedMediaType(`${why} - accepted media types include: ${acceptedTypes(isCustomResource)}`);
  }
  let patch: JsonValue;
  try {
    patch = JSON.parse(body) as JsonValue;
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  let result: JsonValue;
  try {
    const target = current as unknown as JsonValue;
    if (kind === 'json') result = applyJsonPatch(target, patch);
    else if (kind === 'merge') result = applyMergePatch(target, patch);
    else result = applyStrategicMergePatch(target, patch);
  } catch (err) {
    if (err instanceof JsonPatchError) throw new ApiError(422, 'Invalid', err.message, undefined, { cause: err });
    if (err instanceof TypeError) throw badRequest(err.message);
    throw err;
  }
  if (!isJsonObject(result) || !isJsonObject(result.metadata)) throw badRequest('the patch removed the object\'s metadata');
  return result as unknown as KubeObject;
}
