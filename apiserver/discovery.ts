// Legacy (unaggregated) discovery documents: /version, /api, /apis, /apis/<group>,
// /api/v1 and /apis/<group>/<version>. Aggregated discovery (apidiscovery.k8s.io/v2) is
// not served: kubectl asks for it first and falls back to these when the answer is
// plain application/json.

import type { JsonObject, ResourceType } from './api-types.js';
import type { ResourceRegistry, ServedGroup } from './resource-registry.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+kubelink-test-apiserver',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function versionDocument(): JsonObject {
  return { ...SERVER_VERSION };
}

export function coreVersionsDocument(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDocument(group: ServedGroup): JsonObject {
  const versions = group.versions.map((v) => ({ groupVersion: `${group.name}/${v}`, version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

export function groupListDocument(registry: ResourceRegistry): JsonObject {
  const groups = registry.groups().filter((g) => g.name !== '');
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDocument) };
}

export function groupDocumentFor(registry: ResourceRegistry, name: string): JsonObject | undefined {
  const group = registry.groups().find((g) => g.name === name && name !== '');
  return group ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group) } : undefined;
}

function resourceEntries(type: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: type.verbs,
  };
  if (type.shortNames.length) main.shortNames = type.shortNames;
  if (type.categories.length) main.categories = type.categories;
  const entries = [main];
  if (type.hasStatusSubresource) {
    entries.push({ name: `${type.plural}/status`, singularName: '', namespaced: type.namespaced, kind: type.kind, verbs: ['get', 'patch', 'update'] });
  }
  return entries;
}

/** The APIResourceList of one group version, or undefined when nothing is served there. */
export function resourceListDocument(registry: ResourceRegistry, group: string, version: string): JsonObject | undefined {
  const types = registry.typesOf(group, version);
  if (types.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: types.flatMap(resourceEntries),
  };
}
