// The HTTP face of the server: reads a request, resolves its path, picks the verb and
// the representation, calls the resource operations or the watch hub, and writes JSON
// (errors as meta/v1 Status with the matching HTTP code).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, asApiError, badRequest, methodNotAllowed, pathNotFound } from './api-errors.js';
import type { JsonObject, JsonValue, KubeObject, ResourceType } from './api-types.js';
import { apiVersionOf } from './api-types.js';
import { negotiate, type Representation } from './content-negotiation.js';
import { coreVersionsDocument, groupDocumentFor, groupListDocument, resourceListDocument, versionDocument } from './discovery.js';
import { parseListFilter } from './list-filter.js';
import { patchKindOf } from './patch.js';
import { decodeProtobufObject, isProtobuf } from './protobuf-body.js';
import { openApiGroupVersionDocument, openApiRootDocument, openApiV2Document } from './openapi.js';
import { parseApiPath, type ApiPath } from './request-path.js';
import type { ResourceRegistry } from './resource-registry.js';
import type { FieldValidation, ResourceOperations, WriteOptions, WriteResult } from './resource-operations.js';
import { partialObjectMetadata, toTable, type IncludeObject } from './table.js';
import type { WatchHub } from './watch.js';
import type { Logger } from '../src/shared/log.js';

/** The real server's request body limit. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface ApiHandlerDeps {
  registry: ResourceRegistry;
  operations: ResourceOperations;
  watchHub: WatchHub;
  /** host:port clients should use, for /api's serverAddressByClientCIDRs. */
  serverAddress: () => string;
  now: () => Date;
  logger: Logger;
}

type ResourceRoute = Extract<ApiPath, { kind: 'resource' }>;

function readBody(req: IncomingMessage): Promise<string> {
  return readRawBody(req).then((b) => b.toString('utf8'));
}

function readRawBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An object body: JSON, or protobuf for the kinds kubectl's generator commands send that way. */
async function readObjectBody(req: IncomingMessage): Promise<JsonValue> {
  const raw = await readRawBody(req);
  if (isProtobuf(req.headers['content-type'])) return decodeProtobufObject(raw);
  return parseJsonBody(raw.toString('utf8'));
}

function parseJsonBody(text: string): JsonValue {
  if (text.trim() === '') throw badRequest('the request body is empty');
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

function sendJson(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' };
  if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(JSON.stringify(body));
}

function writeOptions(query: URLSearchParams): WriteOptions {
  const fieldValidation = query.get('fieldValidation') ?? 'Warn';
  if (!['Ignore', 'Warn', 'Strict'].includes(fieldValidation)) {
    throw badRequest(`fieldValidation: Unsupported value: "${fieldValidation}": supported values: "Ignore", "Warn", "Strict"`);
  }
  const dryRun = query.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All')) throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(dryRun)}: supported values: "All"`);
  return { dryRun: dryRun.length > 0, fieldValidation: fieldValidation as FieldValidation };
}

function optionalInt(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d+$/.test(text)) throw badRequest(`${name}: Invalid value: "${text}": must be a non-negative integer`);
  return Number(text);
}

function optionalBool(query: URLSearchParams, name: string): boolean | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  return text === 'true' || text === '1';
}

export function createApiHandler(deps: ApiHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, operations, watchHub, logger } = deps;

  const render = (type: ResourceType, repr: Representation, includeObject: IncludeObject, objects: KubeObject[], listMeta: JsonObject): JsonObject => {
    if (repr.as === 'Table') {
      return { ...toTable(type, objects, listMeta, { includeObject, withColumns: true, now: deps.now() }), apiVersion: repr.apiVersion };
    }
    if (repr.as === 'PartialObjectMetadata') {
      return { kind: 'PartialObjectMetadataList', apiVersion: repr.apiVersion, metadata: listMeta, items: objects.map(partialObjectMetadata) };
    }
    return { kind: type.listKind, apiVersion: apiVersionOf(type), metadata: listMeta, items: objects as unknown as JsonValue[] };
  };

  const renderOne = (type: ResourceType, repr: Representation, includeObject: IncludeObject, obj: KubeObject): JsonValue => {
    if (repr.as === 'Table') return render(type, repr, includeObject, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' });
    if (repr.as === 'PartialObjectMetadata') return { ...partialObjectMetadata(obj), apiVersion: repr.apiVersion };
    return obj as unknown as JsonValue;
  };

  /** Built-ins answer a completed DELETE with a Success Status; custom resources and CRDs with the object. */
  const deleteResponse = (type: ResourceType, result: WriteResult): JsonValue => {
    if (result.code === 202 || type.crdName !== undefined || type.plural === 'customresourcedefinitions') return result.object as unknown as JsonValue;
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: result.object.metadata.name ?? '', group: type.group, kind: type.plural, uid: result.object.metadata.uid ?? '' },
    };
  };

  async function handleResource(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, query: URLSearchParams): Promise<void> {
    const type = registry.find(route.group, route.version, route.plural);
    if (!type) throw pathNotFound();
    if (route.namespace !== undefined && !type.namespaced) throw pathNotFound();
    if (route.name !== undefined && type.namespaced && route.namespace === undefined) throw pathNotFound();
    if (route.subresource !== undefined && !(route.subresource === 'status' && type.hasStatusSubresource)) throw pathNotFound();
    const subresource = route.subresource === 'status' ? 'status' : undefined;
    const method = req.method ?? 'GET';
    const repr = negotiate(req.headers.accept);
    const includeObject = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    if (!['None', 'Metadata', 'Object'].includes(includeObject)) {
      throw badRequest(`includeObject: Unsupported value: "${includeObject}": supported values: "None", "Metadata", "Object"`);
    }

    if (route.name === undefined) {
      const filter = parseListFilter(type, route.namespace, query.get('labelSelector'), query.get('fieldSelector'));
      if (method === 'GET' && (query.get('watch') === 'true' || query.get('watch') === '1')) {
        watchHub.serve(req, res, {
          type,
          filter,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          sendInitialEvents: optionalBool(query, 'sendInitialEvents'),
          allowBookmarks: optionalBool(query, 'allowWatchBookmarks') ?? false,
          timeoutSeconds: optionalInt(query, 'timeoutSeconds'),
          encode: (obj, firstEvent) => {
            const presented = operations.present(type, obj);
            if (repr.as === 'Table') {
              return { ...toTable(type, [presented], { resourceVersion: obj.metadata.resourceVersion ?? '' }, { includeObject, withColumns: firstEvent, now: deps.now() }), apiVersion: repr.apiVersion };
            }
            if (repr.as === 'PartialObjectMetadata') return { ...partialObjectMetadata(presented), apiVersion: repr.apiVersion };
            return presented as unknown as JsonObject;
          },
        });
        return;
      }
      if (method === 'GET') {
        const result = operations.list(type, filter, { limit: optionalInt(query, 'limit'), continueToken: query.get('continue') ?? undefined });
        const listMeta: JsonObject = { resourceVersion: result.resourceVersion };
        if (result.continueToken) listMeta.continue = result.continueToken;
        if (result.remainingItemCount !== undefined) listMeta.remainingItemCount = result.remainingItemCount;
        sendJson(res, 200, render(type, repr, includeObject, result.items, listMeta));
        return;
      }
      if (method === 'POST') {
        if (subresource) throw methodNotAllowed('the server does not allow this method on the requested resource');
        const result = operations.create(type, route.namespace, await readObjectBody(req), writeOptions(query));
        sendJson(res, result.code, result.object, result.warnings);
        return;
      }
      if (method === 'DELETE') {
        const body = await readBody(req);
        const deleted = operations.deleteCollection(type, filter, body.trim() ? parseJsonBody(body) : undefined, writeOptions(query));
        sendJson(res, 200, render(type, { as: 'object' }, includeObject, deleted, { resourceVersion: '' }));
        return;
      }
      throw methodNotAllowed(`the server does not allow this method on the requested resource`);
    }

    const target = { type, namespace: route.namespace, name: route.name };
    switch (method) {
      case 'GET':
        sendJson(res, 200, renderOne(type, repr, includeObject, operations.get(target)));
        return;
      case 'PUT': {
        const result = operations.update(target, await readObjectBody(req), writeOptions(query), subresource);
        sendJson(res, result.code, result.object, result.warnings);
        return;
      }
      case 'PATCH': {
        const result = operations.patch(target, patchKindOf(req.headers['content-type']), await readBody(req), writeOptions(query), subresource);
        sendJson(res, result.code, result.object, result.warnings);
        return;
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed('the server does not allow this method on the requested resource');
        const body = await readBody(req);
        const result = operations.delete(target, body.trim() ? parseJsonBody(body) : undefined, writeOptions(query));
        sendJson(res, result.code, deleteResponse(type, result));
        return;
      }
      default:
        throw methodNotAllowed('the server does not allow this method on the requested resource');
    }
  }

  function discovery(route: ApiPath): JsonValue | undefined {
    switch (route.kind) {
      case 'version':
        return versionDocument();
      case 'coreVersions':
        return coreVersionsDocument(deps.serverAddress());
      case 'groupList':
        return groupListDocument(registry);
      case 'group':
        return groupDocumentFor(registry, route.group);
      case 'resourceList':
        return resourceListDocument(registry, route.group, route.version);
      case 'openApiRoot':
        return openApiRootDocument(registry);
      case 'openApiGroupVersion':
        return openApiGroupVersionDocument(registry, route.group, route.version);
      default:
        return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = parseApiPath(url.pathname);
    if (!route) throw pathNotFound();
    if (route.kind === 'health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (route.kind === 'resource') {
      await handleResource(req, res, route, url.searchParams);
      return;
    }
    if (route.kind === 'openApiV2') {
      const doc = openApiV2Document(req.headers.accept);
      res.writeHead(200, { 'Content-Type': doc.contentType });
      res.end(doc.body);
      return;
    }
    if (req.method !== 'GET') throw methodNotAllowed('the server does not allow this method on the requested resource');
    const doc = discovery(route);
    if (doc === undefined) throw pathNotFound();
    sendJson(res, 200, doc);
  }

  return (req, res) => {
    handle(req, res)
      .catch((err: unknown) => {
        const apiError = asApiError(err);
        if (apiError.code >= 500) logger.error('request failed', { method: req.method, url: req.url, err });
        if (!res.headersSent) sendJson(res, apiError.code, apiError.toStatus());
        else res.end();
      })
      .finally(() => {
        logger.debug('request', { method: req.method, url: req.url, code: res.statusCode });
      });
  };
}
