// Maps a URL path onto what it addresses: a discovery document or a resource
// (group, version, namespace, plural, name, subresource), the way the real server's
// request-info resolver does for the paths kubectl and client libraries use.

export type ApiPath =
  | { kind: 'version' }
  | { kind: 'health' }
  | { kind: 'coreVersions' }
  | { kind: 'groupList' }
  | { kind: 'group'; group: string }
  | { kind: 'resourceList'; group: string; version: string }
  | { kind: 'openApiV2' }
  | { kind: 'openApiRoot' }
  | { kind: 'openApiGroupVersion'; group: string; version: string }
  | {
      kind: 'resource';
      group: string;
      version: string;
      namespace?: string;
      plural: string;
      name?: string;
      subresource?: string;
    };

/** Subresources of a namespace that must not be read as a resource named "status" inside it. */
const NAMESPACE_SUBRESOURCES = ['status', 'finalize'];

function resourcePath(group: string, version: string, rest: string[]): ApiPath | undefined {
  if (rest.length === 0) return { kind: 'resourceList', group, version };
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && NAMESPACE_SUBRESOURCES.includes(rest[2]))) {
    if (rest.length > 5) return undefined;
    const [, namespace, plural, name, subresource] = rest;
    return { kind: 'resource', group, version, namespace, plural, name, subresource };
  }
  if (rest.length > 3) return undefined;
  const [plural, name, subresource] = rest;
  return { kind: 'resource', group, version, plural, name, subresource };
}

export function parseApiPath(pathname: string): ApiPath | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (segments.some((s) => s === '.' || s === '..')) return undefined;
  const [root, ...rest] = segments;
  if (segments.length === 1 && root === 'version') return { kind: 'version' };
  if (segments.length === 1 && ['healthz', 'livez', 'readyz'].includes(root)) return { kind: 'health' };
  if (segments.length === 2 && root === 'openapi' && rest[0] === 'v2') return { kind: 'openApiV2' };
  if (root === 'openapi' && rest[0] === 'v3') {
    const [, api, ...gv] = rest;
    if (api === undefined) return { kind: 'openApiRoot' };
    if (api === 'api' && gv.length === 1) return { kind: 'openApiGroupVersion', group: '', version: gv[0] };
    if (api === 'apis' && gv.length === 2) return { kind: 'openApiGroupVersion', group: gv[0], version: gv[1] };
    return undefined;
  }
  if (root === 'api') {
    if (rest.length === 0) return { kind: 'coreVersions' };
    return rest[0] === 'v1' ? resourcePath('', 'v1', rest.slice(1)) : undefined;
  }
  if (root === 'apis') {
    if (rest.length === 0) return { kind: 'groupList' };
    if (rest.length === 1) return { kind: 'group', group: rest[0] };
    return resourcePath(rest[0], rest[1], rest.slice(2));
  }
  return undefined;
}
