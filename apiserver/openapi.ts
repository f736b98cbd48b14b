// The smallest OpenAPI v3 documents kubectl needs. `kubectl apply` (default
// --validate=strict) asks /openapi/v3 whether the server supports the `fieldValidation`
// query parameter for a kind: it looks for a PATCH operation tagged with the kind's
// x-kubernetes-group-version-kind that lists that parameter. Without the documents it
// falls back to /openapi/v2 and refuses to apply. No schemas are published
// (components are empty), so `kubectl explain` does not work; validation is done
// server-side with fieldValidation instead, and kubectl computes strategic merge patches
// from its built-in types.
//
// /openapi/v2 is served empty: kubectl falls back to it for kinds it finds neither in
// v3 nor among the CRDs (e.g. a Certificate whose CRD is not installed), and only then
// reports the real problem ("no matches for kind"). It asks for the protobuf encoding,
// in which an empty body is an empty document.

import { createHash } from 'node:crypto';
import type { JsonObject, ResourceType } from './api-types.js';
import { SERVER_VERSION } from './discovery.js';
import type { ResourceRegistry } from './resource-registry.js';

function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function itemPath(type: ResourceType): string {
  const prefix = `/${groupVersionPath(type.group, type.version)}`;
  return type.namespaced ? `${prefix}/namespaces/{namespace}/${type.plural}/{name}` : `${prefix}/${type.plural}/{name}`;
}

function patchOperation(type: ResourceType): JsonObject {
  const queryParam = (name: string): JsonObject => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
  return {
    operationId: `patch${type.kind}`,
    'x-kubernetes-action': 'patch',
    'x-kubernetes-group-version-kind': { group: type.group, version: type.version, kind: type.kind },
    parameters: [queryParam('dryRun'), queryParam('fieldManager'), queryParam('fieldValidation'), { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } }],
    responses: { '200': { description: 'OK' } },
  };
}

export function openApiGroupVersionDocument(registry: ResourceRegistry, group: string, version: string): JsonObject | undefined {
  const types = registry.typesOf(group, version);
  if (types.length === 0) return undefined;
  const paths: JsonObject = {};
  for (const t of types) paths[itemPath(t)] = { patch: patchOperation(t) };
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
  };
}

/** /openapi/v3: one entry per served group version, with a content hash so clients refetch after CRD changes. */
export function openApiRootDocument(registry: ResourceRegistry): JsonObject {
  const paths: JsonObject = {};
  for (const group of registry.groups()) {
    for (const version of group.versions) {
      const doc = openApiGroupVersionDocument(registry, group.name, version);
      const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
      const path = groupVersionPath(group.name, version);
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
    }
  }
  return { paths };
}

/** What the client asks for (with '@') and what the real server answers (Go's mime parser rejects the '@'). */
const OPENAPI_V2_PROTOBUF_ACCEPT = 'protobuf';
const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** The empty Swagger 2.0 document in the encoding the client asked for. */
export function openApiV2Document(accept: string | undefined): { contentType: string; body: string } {
  if ((accept ?? '').includes(OPENAPI_V2_PROTOBUF_ACCEPT)) return { contentType: OPENAPI_V2_PROTOBUF, body: '' };
  return { contentType: 'application/json', body: JSON.stringify({ swagger: '2.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths: {}, definitions: {} }) };
}
