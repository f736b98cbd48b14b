// Which representation a client asked for in Accept. kubectl asks for server-side
// printing with `application/json;as=Table;v=v1;g=meta.k8s.io,...,application/json`
// and for aggregated discovery (not served: we fall through to plain JSON, which
// kubectl accepts). Protobuf and YAML are never chosen.

import { ApiError } from './api-errors.js';

export type Representation =
  | { as: 'object' }
  | { as: 'Table'; apiVersion: string }
  | { as: 'PartialObjectMetadata'; apiVersion: string };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [type, ...rest] = part.split(';').map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of rest) {
        const eq = p.indexOf('=');
        if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
      }
      return { type: type.toLowerCase(), params };
    });
}

const META_VERSIONS = ['v1', 'v1beta1'];

/** Throws 406 when nothing in Accept can be served. */
export function negotiate(acceptHeader: string | undefined): Representation {
  if (!acceptHeader) return { as: 'object' };
  for (const range of parseAccept(acceptHeader)) {
    if (!['application/json', 'application/*', '*/*'].includes(range.type)) continue;
    const as = range.params.as;
    if (as === undefined) return { as: 'object' };
    if (range.params.g !== 'meta.k8s.io' || !META_VERSIONS.includes(range.params.v ?? '')) continue;
    const apiVersion = `meta.k8s.io/${range.params.v}`;
    if (as === 'Table') return { as: 'Table', apiVersion };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { as: 'PartialObjectMetadata', apiVersion };
  }
  throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io`);
}
